# Township power-station assistant. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
RASA := .venv-rasa/bin/rasa
MODEL := models/current.tar.gz
export PYTHONPATH := $(CURDIR)
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: help setup run migrate seed train validate eval test-stories test test-unit \
        test-integration test-browser test-e2e test-faults lint format clean bench test-deploy lock

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-17s\033[0m %s\n", $$1, $$2}'

setup: ## Create/update both environments (.venv: Python 3.11+, .venv-rasa: Rasa on 3.10)
	@scripts/setup.sh

run: ## Set up, migrate, seed, train if changed, run Rasa, actions and the gateway (web chat :8080) under a supervisor that restarts them
	@scripts/run.sh

lock: ## Refresh requirements/main.txt and rasa.txt, the hashed locks `make setup` installs (UPGRADE=1: newest allowed)
	@scripts/lock.sh

migrate: setup ## Upgrade the database schema (DATABASE_URL, default var/assistant.db)
	$(PY) -m store migrate

seed: setup ## Load the demo township into an empty database
	$(PY) -m store seed

train: setup ## Train the model if data/, domain.yml, config.yml or nlu/dict changed (FORCE=1 forces)
	@scripts/train.sh

validate: setup ## Check the training data and domain (rasa data validate)
	@scripts/validate.sh

eval: train ## Evaluate on the holdout set (macro-F1 >= 0.92) and the independent corpus (accuracy >= 0.93): reports/nlu/
	@scripts/eval.sh

test-stories: train ## Run the Rasa test stories against the trained model
	@scripts/test-stories.sh

test-unit: setup ## Unit tests (no I/O)
	$(PY) -m pytest tests/unit -q

test-integration: setup ## Integration tests (SQLite, PostgreSQL when TEST_DATABASE_URL is set)
	$(PY) -m pytest tests/integration -q

test-browser: setup ## Browser tests: web chat, agent console and NLU page in Debian's headless Chromium
	$(PY) -m pytest tests/browser -q

test-e2e: train ## End-to-end tests: trained model, real Rasa and action servers
	$(PY) -m pytest tests/e2e -q

test-faults: train ## Fault suite: two Rasa workers on PostgreSQL + Redis (TEST_DATABASE_URL, TEST_REDIS_URL), servers killed (a few minutes)
	$(PY) -m pytest tests/faults -q --durations=5

bench: train ## Gateway vs Rasa alone at 1/10/50 customers → BENCHMARKS.md (~5 min; Rasa's tracker stores (memory, make run's SQLite, Compose's PostgreSQL+Redis on TEST_DATABASE_URL/TEST_REDIS_URL) under 10 closed-loop customers and an open-loop load at 5/10/20 msg/s ~8 min more, BENCH_ARGS='--trackers none' leaves it out; py-spy's per-message profile of the Rasa worker ~2 min more, BENCH_ARGS='--profile-seconds 0' leaves it out; an outage notice to 20,000 Telegram subscribers ~16 min more, BENCH_ARGS='--outage-subscribers 0' leaves it out; the service-quality dashboard on a county's year ~10 min more on PostgreSQL (TEST_DATABASE_URL), BENCH_ARGS='--quality-repetitions 0' leaves it out; BENCH_TRAIN=1 also times training and retrain-to-deployed, ~7 min more)
	$(PY) -m scripts.bench $(BENCH_ARGS)

test-deploy: train ## Build, start and talk to the Docker Compose deployment (~20 min, ~12 cached; not in CI: docs/deployment.md)
	@scripts/test-deploy.sh

lint: setup ## ruff (lint + format check) and mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

format: setup ## Format and auto-fix the code
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

test: ## Everything CI runs: lint, validate, all tests, train, test stories, eval, end-to-end
	@scripts/test-all.sh

clean: ## Remove models, reports and local data (not the environments)
	rm -rf models results reports var .pytest_cache .mypy_cache .ruff_cache
