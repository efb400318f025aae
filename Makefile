# Every target bootstraps .venv itself: a fresh clone needs only python3 (>= 3.11).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test lint bench serve demo package clean check-java check-node browser spark-classes mlflow-store

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mlops-hooks needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	@echo "installing mlops-hooks and its test dependencies into $(VENV) ..."
	@# -qq: setuptools' editable build warns about the mlops_hooks/ folder it installs from,
	@# in a 10-line block on every install; errors (and resolver conflicts) still print
	$(PY) -m pip install -qq -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

check-java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java 17 is required for local Spark but 'java' is not on PATH."; \
	  echo "Install it with:  sudo apt-get install -y openjdk-17-jre-headless   (Debian/Ubuntu)"; \
	  echo "             or:  brew install openjdk@17                            (macOS)"; \
	  exit 1; }

check-node:
	@command -v npm >/dev/null 2>&1 || { \
	  echo "Node.js (>= 18) and npm package serverless.yml in the tests but 'npm' is not on PATH."; \
	  echo "Install them with:  sudo apt-get install -y nodejs npm   (Debian/Ubuntu)"; \
	  echo "               or:  brew install node                    (macOS)"; \
	  exit 1; }

# The web UI's tests drive a real headless Chromium (Debian's chromium + chromium-driver): installed
# with apt when missing (as root, or with sudo), else said how
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium and chromium-driver (apt) for the web UI tests ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver (sudo apt) for the web UI tests ..."; \
	  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
	  echo "The web UI tests need Chromium and its driver, and 'chromium' or 'chromedriver' is not on PATH."; \
	  echo "Install them with:  sudo apt-get install -y chromium chromium-driver   (Debian/Ubuntu)"; \
	  echo "             or:  brew install --cask chromium chromedriver          (macOS)"; \
	  exit 1; \
	fi

# osls: the open-source Serverless Framework v3 line (packages serverless.yml with no login)
node_modules/.bin/osls: package.json | check-node
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# The archive of the classes local Spark loads (shared/adapters/spark_classes.py): the demo's
# and the suite's JVMs map them instead of loading them one by one (a job host warm in ~7.5 s
# instead of ~11). Built once per environment (~40 s); when it cannot be, Spark starts as before.
spark-classes: install check-java
	@$(PY) -m mlops_hooks.jobs.class_archive

# An empty MLflow store with its schema migrated (functions/demo/mlflow_store.py): the local
# servers of the demo and the suite start from a copy instead of migrating a new one (~1 s of
# CPU each). Built once per MLflow version (~4 s); without it a server migrates as before.
mlflow-store: install
	@$(PY) -m mlops_hooks.functions.demo.mlflow_store

# ruff, and the import-linter contracts of pyproject.toml (the layers; no cycles)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m tests.support.layers

# Two workers, a test file each at a time (module fixtures stay together); each worker starts
# its own MLflow, moto and Spark. On 2 cores, more workers were slower (8.5 vs 7.9 minutes).
# The files in tests/conftest.py's order (the longest first), not xdist's (most tests first).
TEST_WORKERS ?= 2
# Bytecode is written even where PYTHONDONTWRITEBYTECODE is set (as on this project's CI
# machines): else each of the suite's ~300 processes compiles the project's modules again, and
# each worker rewrites every test module's asserts again (2026-12-06, back to back: 337 s of
# pytest and 413 s of user CPU, against 361 s and 446 s, with the Spark drift change)
test: install check-java spark-classes mlflow-store node_modules/.bin/osls browser lint
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "bench/ingress.py needs wrk: sudo apt-get install -y wrk  (macOS: brew install wrk)"; exit 1; }
	$(PY) bench/all.py

# The deployable artefacts of serverless.yml: build/edge-layer.zip (arm64) and build/worker/
# (the worker image's build context); ARCH=x86_64 for an x86_64 stack
package: install
	$(PY) infra/package.py --arch $(or $(ARCH),arm64)

serve: install
	$(VENV)/bin/mlops-hooks serve

# The main job: the whole loop on an embedded stack (MLflow, moto, serve, Slack sink, Spark)
demo: install check-java spark-classes mlflow-store
	$(VENV)/bin/mlops-hooks demo $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mlops-hooks build
