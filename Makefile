# cnnviz: `make run` starts the app, `make test` runs the whole suite. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint format bench screenshots chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-app

## run: start the app on http://localhost:$(PORT)
run: $(VENV)/.installed-app
	$(PY) -m streamlit run serve.py --server.port $(PORT) --server.address localhost

## chromium: Debian's chromium for the browser tests (never a Playwright browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

## test: lint, unit, AppTest and browser tests
test: $(VENV)/.installed-test chromium
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/.installed-test
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## bench: the benchmarks under benchmarks/
bench: $(VENV)/.installed-test
	$(PY) benchmarks/bench_probe.py
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_steps.py
	$(PY) benchmarks/bench_explain.py
	$(PY) benchmarks/bench_lessons.py
	$(PY) benchmarks/bench_domain.py
	$(PY) benchmarks/bench_browser.py
	$(PY) benchmarks/bench_classroom.py

clean:
	rm -rf $(VENV) build *.egg-info screenshots
