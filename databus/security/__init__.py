"""Security of the bus: TLS material, SCRAM principals, ACLs derived from the topology, signed events."""
