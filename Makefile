# Two commands do all set-up on a fresh machine:  make demo  and  make test
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test benchmarks clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,ray]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/bench run --method negative --dataset 'scene+rpa[p=0.5]'
	$(VENV)/bin/bench report

test: $(STAMP)
	$(VENV)/bin/ruff check .
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-2} $(PY) -m pytest -q tests

benchmarks: $(STAMP)
	$(PY) -m pytest -q benchmarks --benchmark-only -s

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
