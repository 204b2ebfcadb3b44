# cnnviz: `make run` starts the app, `make test` runs the whole suite. Both set everything up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
ADDRESS ?= localhost
REPLICAS ?= 2
# `make school` listens on 8500 unless PORT is given (make run's 8501 stays free).
SCHOOL_PORT = $(if $(filter file,$(origin PORT)),8500,$(PORT))

.PHONY: run install test lint format bench screenshots chromium haproxy school school-stop clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-app

install: $(VENV)/.installed-app

## run: start the app on http://$(ADDRESS):$(PORT)
run: $(VENV)/.installed-app
	$(PY) -m streamlit run serve.py --server.port $(PORT) --server.address $(ADDRESS)

## chromium: Debian's chromium for the browser tests (never a Playwright browser download)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

## haproxy: Debian's HAProxy, the load balancer of `make school` (and its browser tests)
haproxy:
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends haproxy; }

## school: REPLICAS servers behind HAProxy on http://localhost:$(SCHOOL_PORT) (pids in .school/)
school: $(VENV)/.installed-app haproxy
	$(PY) -m cnnviz.cli school start --replicas $(REPLICAS) --port $(SCHOOL_PORT)

## school-stop: stop exactly the processes `make school` started
school-stop:
	$(PY) -m cnnviz.cli school stop

## test: lint, unit, AppTest and browser tests
test: $(VENV)/.installed-test chromium haproxy
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
