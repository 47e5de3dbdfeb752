# Two commands on a fresh machine (Python 3.11+):  make run   |   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test demo bench eval clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run the app on the embedded default (SQLite and files under ./data, the packaged model)
run: $(VENV)/.runtime
	$(BIN)/python -m core migrate --no-backup
	$(BIN)/streamlit run app.py --server.port $(PORT)

## run the whole test suite (SQLite always; PostgreSQL too when TEST_DATABASE_URL is set)
test: $(VENV)/.dev
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.runtime
	$(BIN)/python -m core bench ingest ../shared/data/course_pdfs
	$(BIN)/python -m core bench query

eval: $(VENV)/.runtime
	$(BIN)/python -m core eval beir ../shared/data/scifact --split train
	$(BIN)/python -m core eval squad ../shared/data/squad

clean:
	rm -rf $(VENV) .pytest_cache
