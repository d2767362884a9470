"""Local real stack: Kafka (KRaft), Apicurio Registry, PostgreSQL and MariaDB started by the project.

`databus stack up|down|status` and the test fixtures drive it through `launcher`.
"""
