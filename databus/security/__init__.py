"""Security of the bus: TLS, SCRAM principals, ACLs from the topology, signed events."""
