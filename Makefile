# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
BIN := .venv/bin
STAMP := .venv/.installed

.PHONY: demo test lint unit integration stack-up stack-down bench generate clean

$(STAMP): pyproject.toml setup.py $(wildcard */*.pyx */*/*.pyx)
	deploy/local/ensure-python.sh

## demo: start Kafka + registry, apply the topology, run the main job on the embedded default
demo: $(STAMP)
	deploy/local/ensure-system.sh core
	$(BIN)/databus stack up
	$(BIN)/databus topics apply
	$(BIN)/databus schemas register
	$(BIN)/databus demo
	@echo "Prometheus config and alert rules: deploy/prometheus/; Grafana dashboards: deploy/grafana/ (docs/observability.md)"

## test: ruff, mypy, then every test (integration tests start the real stack themselves)
test: $(STAMP)
	deploy/local/ensure-system.sh full
	$(MAKE) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -m integration

## bench: every benchmark (needs the local stack and the secure one; started if missing); results in bench/results
bench: $(STAMP)
	deploy/local/ensure-system.sh full
	$(BIN)/databus stack up --all
	$(BIN)/python -m bench.serde
	$(BIN)/databus stack up --secure
	$(BIN)/python -m bench.publish --secure
	$(BIN)/python -m bench.outbox
	$(BIN)/python -m bench.sync --secure
	$(BIN)/python -m bench.sync_apply
	$(BIN)/python -m bench.consume
	$(BIN)/python -m bench.router
	$(BIN)/python -m bench.sink
	$(BIN)/python -m bench.backfill
	$(BIN)/python -m bench.e2e
	$(BIN)/python -m bench.e2e --rates 200,500,1000,1500,2000
	$(BIN)/python -m bench.verify
	$(BIN)/python -m bench.monitor

## generate: rewrite the Avro schemas and docs/events.md from the models (tests check both)
generate: $(STAMP)
	$(BIN)/python -m schemas.avro_gen
	$(BIN)/python -m databus.contracts_doc

stack-up: $(STAMP)
	$(BIN)/databus stack up --all

stack-down: $(STAMP)
	$(BIN)/databus stack down

clean:
	-$(BIN)/databus stack down
	rm -rf .stack .venv .mypy_cache .ruff_cache .pytest_cache
