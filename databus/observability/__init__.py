"""Prometheus rules, the scrape configuration and Grafana dashboards, generated from the
topology into `deploy/` (docs/observability.md; `databus observability render`)."""
