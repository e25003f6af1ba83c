# Two entry points (see README): `make demo` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= out/reproduce

.PHONY: demo test lint typecheck install clean readme

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]" -c constraints.txt
	# compressai declares numpy<2 but works with numpy 2: install it without its pins
	$(PY) -m pip install --quiet --no-deps "compressai==1.2.8"
	# geoclip: only its wheel's location-encoder weights are read (Terra's spatial task); its
	# own imports (transformers, geopy) are never used, so it goes in without them
	$(PY) -m pip install --quiet --no-deps "geoclip==1.3.0"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/geoneurips reproduce --quick --jobs $${DEMO_JOBS:-2} --out $(OUT)

# Two pytest-xdist workers, one torch thread each (the CI machine has 2 cores); a test file
# stays on one worker (--dist loadscope), so module-scoped fixtures are built once; files
# are handed out in the order tests/conftest.py sets (slow files first, --no-loadscope-reorder).
# PYTEST_WORKERS=0 runs in one process.
test: $(STAMP)
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -q -n $${PYTEST_WORKERS:-2} --dist loadscope --no-loadscope-reorder --durations=15

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache

# Regenerate the README's systems table from the registry (a test checks it is current).
readme: $(STAMP)
	$(PY) -c "import re, pathlib; from geoneurips.cli.main import markdown_table as t; p = pathlib.Path('README.md'); s = p.read_text(); p.write_text(re.sub(r'(<!-- systems:start -->\n).*?(<!-- systems:end -->)', lambda m: m.group(1) + t() + '\n' + m.group(2), s, flags=re.S))"
