"""The lag and health monitor (`databus run monitor`): collects consumer-group lag in the
background, judges every connection of the topology, and serves /metrics, a JSON API and a web
board from its last snapshot (docs/observability.md)."""
