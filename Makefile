# Quick start: `make demo` (a demo registry), `make test` (lint, types, tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev,s3,mlflow]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

WORKFLOWS := .github/workflows/*.yml registry-template/.github/workflows/*.yml

lint: $(STAMP)
	$(BIN)/ruff check gitreg tests bench
	$(BIN)/ruff format --check gitreg tests bench
	$(BIN)/mypy
	# GitHub Actions static analysis, offline (no GitHub API calls), and the workflow schemas
	$(BIN)/zizmor --offline --no-progress --quiet $(WORKFLOWS) action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.gitlab-ci registry-template/.gitlab-ci.yml

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/core.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
