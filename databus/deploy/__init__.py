"""Deployment descriptors generated from the topology: Kubernetes (Strimzi) manifests under
`deploy/k8s/` and the compose file under `deploy/compose/` (docs/operations.md;
`databus deploy render`, `databus deploy compose`)."""
