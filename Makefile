# The two commands: `make run` and `make test`. Both install what is missing first.
# Needs only python3 (3.11+): uv is installed into .tools/, the project into .venv/ from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
MANIFESTS := pyproject.toml uv.lock shared/pyproject.toml $(wildcard services/*/pyproject.toml)

.PHONY: install lint run web test test-sqlite kafka-jars bench catalogue clean

.venv/.installed: $(MANIFESTS)
	@test -x $(UV) || ($(PYTHON) -m venv .tools && .tools/bin/pip install -q "uv==$(UV_VERSION)")
	$(UV) sync --all-packages --locked --python $(PYTHON)
	@touch $@

install: .venv/.installed

## Lint first (ruff: pyflakes, pycodestyle, isort, bugbear, complexity <= 12; config in pyproject.toml).
lint: install
	$(PY) -m ruff check .

## Broker + four services + demo data on 8001-8004 + the gateway with the console on 8000, until Ctrl-C.
run: install web
	$(PY) -m kam_shared.cli run

## The web console (web/dist, served by the gateway): `npm ci` when the lock changed, then
## `npm run build` when the console's sources or the services' code (its API client is generated
## from their OpenAPI) changed since the last build. Nothing to do before web/package.json exists.
WEB_SOURCES = $(shell find web -path web/node_modules -prune -o -path web/dist -prune \
	-o -path web/src/api/generated -prune -o -type f -print 2>/dev/null)
SERVICE_SOURCES = $(shell find shared/kam_shared services/*/*_svc -name '*.py' 2>/dev/null)

ifneq ($(wildcard web/package.json),)
web: web/dist/index.html

web/node_modules/.kam-npm-ci: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@mkdir -p web/node_modules && touch $@

web/dist/index.html: .venv/.installed web/node_modules/.kam-npm-ci $(WEB_SOURCES) $(SERVICE_SOURCES)
	cd web && npm run build
	@touch $@
else
web:
	@echo "web/package.json not there yet: no console to build"
endif

## Every test: unit, API, cross-service (real broker, services as processes), on Apache Kafka
## (deploy/kafka/pom.xml; Tansu when java is missing) + PostgreSQL; then the end-to-end flow once
## more on Tansu + SQLite, the `make run` default. The console is built first (`web`): tests/browser drive it.
## PostgreSQL: the one at 127.0.0.1:5432 if it answers, else a throwaway cluster on a free port
## (Debian's postgresql installed first when root), else SQLite; KAM_TEST_DB=sqlite forces SQLite.
test: install lint web
	KAM_TEST_BROKER=kafka $(PY) -m kam_shared.cli with-postgres -- $(PY) -m pytest -q
	KAM_TEST_BROKER=tansu KAM_TEST_DB=sqlite $(PY) -m pytest -q tests/test_end_to_end.py

test-sqlite: install
	KAM_TEST_DB=sqlite $(PY) -m pytest -q

## The Apache Kafka jars the tests run, from Maven Central (the tests fetch them too, once, when missing).
kafka-jars: install
	$(PY) -c "from kam_shared.devstack import kafka_libs; print(kafka_libs())"

## Benchmarks (numbers, not pass/fail): make bench BENCH=event_latency [BENCH_ARGS=...]; same PostgreSQL as tests
BENCH ?= event_latency
bench: install
	$(PY) -m kam_shared.cli with-postgres -- $(PY) bench/$(BENCH).py $(BENCH_ARGS)

## The AsyncAPI document of every event, generated from the payload models.
catalogue: install
	$(PY) -m kam_shared.cli catalogue

clean:
	rm -rf var/ .venv/ .tools/ deploy/kafka/target/ web/dist/ web/node_modules/
