# Tollgate: `make run` runs the local stack, `make test` runs the tests. Each sets up what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
OPENAPI_VENV := .venv-openapi

.PHONY: setup run test unit integration lint build bench fuzz contract contract-check clean portal

$(VENV)/.installed: pyproject.toml sdk/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet -e sdk/python
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# The customer portal (portal/, its own npm package): installed from its lock file, built to portal/dist by
# vite. The build is redone when a source file, the lock file or the API's contract changes.
PORTAL_SOURCES := $(shell find portal/src portal/index.html portal/vite.config.ts portal/scripts -type f -not -name 'schema.d.ts' 2>/dev/null)
PORTAL_BUILT := portal/dist/index.html

portal/node_modules/.package-lock.json: portal/package.json portal/package-lock.json
	cd portal && npm ci --no-audit --no-fund

$(PORTAL_BUILT): portal/node_modules/.package-lock.json $(PORTAL_SOURCES) shared/tollgate/edge/contract/openapi.json
	cd portal && npm run build

portal: $(PORTAL_BUILT)

setup: $(VENV)/.installed node_modules/.package-lock.json
	@command -v java >/dev/null || { echo "Java 17 is needed for DynamoDB Local (apt-get install openjdk-17-jre-headless)"; exit 1; }

run: setup $(PORTAL_BUILT)
	$(PY) -m infra.local.stack

# Tests run in parallel workers (pytest-xdist), one per core by default (TEST_WORKERS=0 runs them in one
# process). Each worker that runs integration tests starts its own local stack on its own free ports; whole
# files go to one worker (--dist loadfile), so a file's own extra stack (faults, the stream app) starts once.
TEST_WORKERS ?= auto
PYTEST := $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# The browser tests (tests/integration/test_portal*.py) drive the built portal: it is a prerequisite.
test: setup $(PORTAL_BUILT)
	cd portal && npm test --silent
	$(PYTEST)

unit: setup
	$(PYTEST) tests/unit

integration: setup $(PORTAL_BUILT)
	$(PYTEST) tests/integration

# The fuzzer: schemathesis from /v1/openapi.json against a fresh local stack (infra/fuzz.py), a few minutes.
fuzz: setup
	$(PY) -m infra.fuzz

# Rewrites shared/tollgate/edge/contract/openapi.json from the models (a unit test fails when it is stale).
contract: setup
	$(PY) -m infra.contract

# The client generator lives in its own environment, as sam does (it pins its own httpx, attrs, ruamel).
$(OPENAPI_VENV)/.installed:
	$(PYTHON) -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/pip install --quiet openapi-python-client==0.29.1
	touch $@

# The contract as people and generators read it: redocly lint with no error or warning, and a client
# generated with no warning (infra/contract_check.py). make test uses that client against the local stack.
contract-check: setup $(OPENAPI_VENV)/.installed
	$(PY) -m infra.contract --check
	$(PY) -m infra.contract_check

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

# checkov pins its own versions of many libraries: it lives in its own environment, as sam does.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==3.3.30
	touch $@

# The template as the field checks it: cfn-lint with awslabs' serverless rules, sam's own lint, checkov.
# Findings that do not apply are suppressed in template.yaml itself, each with its reason.
lint: setup $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed portal/node_modules/.package-lock.json
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared functions infra
	PYTHONPATH=shared:. $(VENV)/bin/lint-imports
	$(VENV)/bin/mypy --config-file sdk/python/pyproject.toml sdk/python/src sdk/python/tests
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules --template template.yaml
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet
	cd portal && npm run typecheck --silent

# sam build without a container, with the Lambda runtime's Python; the layer's bytecode compiled. Then the
# portal, from a clean install of its lock file (its build checks the size budget of what loads first).
build: $(SAM_VENV)/.installed
	SAM=$(SAM_VENV)/bin/sam infra/sam/build.sh
	cd portal && npm ci --no-audit --no-fund && npm run build

bench: setup
	$(PY) -m infra.bench
	$(PY) -m infra.bench.contention 2>/dev/null
	$(PY) -m infra.bench.budgets 2>/dev/null | grep -v '^{'
	$(PY) -m infra.bench.usage
	$(PY) -m infra.bench.notifier 2>/dev/null | grep -v '^{'

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(OPENAPI_VENV) .aws-sam node_modules portal/node_modules portal/dist portal/build-test .pytest_cache .mypy_cache .ruff_cache .hypothesis
