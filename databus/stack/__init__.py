"""Local real stack: Kafka (KRaft), Apicurio Registry, PostgreSQL, MariaDB, run by the project.

`databus stack up|down|status` and the test fixtures drive it through `launcher`.
"""
