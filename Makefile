# `make run` and `make test` set up .venv themselves (fresh clone friendly).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck cfn security bench soak build layer clean

# checkov pins an older boto3 than moto needs, so it lives in a venv of its own.
TOOLS := .venv-tools
CHECKOV_VERSION := 3.3.30

$(STAMP): pyproject.toml layers/common/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/sms-local run
	# A Retarus outage with the fallback on (contract §12): failed over, and one that waits.
	$(BIN)/sms-local run --fallback --file events/sample-failover.jsonl

test: $(STAMP) lint typecheck cfn security
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/common/sms_pipeline layers/common/trim_botocore.py local ops bench tests functions/send/app.py functions/status/app.py functions/events/app.py

cfn: $(STAMP)
	$(BIN)/cfn-lint --include-checks I -- template.yaml

$(TOOLS)/.checkov-$(CHECKOV_VERSION):
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

# Security scan of the template; every suppression is explained in template.yaml's Metadata.
security: $(TOOLS)/.checkov-$(CHECKOV_VERSION)
	$(TOOLS)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

bench: $(STAMP)
	$(BIN)/python -m bench

soak: $(STAMP)
	$(BIN)/python -m bench.soak --requests 5000
	# A long Retarus outage with the fallback on (contract §12): sends counted across both simulators.
	$(BIN)/python -m bench.soak --requests 3000 --fallback --provider-outage-seconds 120

clean:
	rm -rf $(VENV) $(TOOLS) $(SAM_VENV) .aws-sam .mypy_cache .pytest_cache .ruff_cache

# `sam build` needs python3.13 on PATH; pyenv's 3.13 is used when the shell does not have one.
SAM_VENV := .venv-sam
PY313 := $(shell command -v python3.13 >/dev/null 2>&1 && python3.13 --version >/dev/null 2>&1 && dirname $$(command -v python3.13) || (pyenv prefix 3.13.0 2>/dev/null | sed 's|$$|/bin|'))

# Pinned: a new SAM CLI may translate the template differently from the one it was checked with.
SAM_CLI_VERSION := 1.170.0

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

# The layer alone, as `sam build` builds it, into ARTIFACTS_DIR (tests/integration/test_layer_build.py).
layer:
	test -n "$(ARTIFACTS_DIR)" || { echo "usage: make layer ARTIFACTS_DIR=<folder>" >&2; exit 2; }
	PATH="$(PY313):$$PATH" $(MAKE) -s -C layers/common build-SharedLayer ARTIFACTS_DIR="$(abspath $(ARTIFACTS_DIR))"

# SAM CLI sends usage data to AWS unless told not to; a build here reaches no network but the registries.
build: $(SAM_VENV)/bin/sam
	test -n "$(PY313)" || { echo "make build needs python3.13 on PATH (or pyenv's 3.13.0): sam build targets the Lambda runtime, python3.13" >&2; exit 2; }
	SAM_CLI_TELEMETRY=0 PATH="$(PY313):$$PATH" $(SAM_VENV)/bin/sam validate --lint
	SAM_CLI_TELEMETRY=0 PATH="$(PY313):$$PATH" $(SAM_VENV)/bin/sam build
