# Two commands matter: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint unit integration install clean bench bench-e2e chaos mutate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's headless Chromium for the dashboard's browser tests (never a browser download).
# Without apt-get it only warns, and those tests skip saying why.
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := $(VENV)/.chromium
$(CHROMIUM): | $(BIN)/python
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null && \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq --no-install-recommends chromium; } || \
	  echo "warning: chromium not installed: the dashboard browser tests will skip"
	@command -v chromium >/dev/null && touch $(CHROMIUM) || true

install: $(STAMP) $(CHROMIUM)

# The Python install only: `trellis dev`'s SMTP catcher needs aiosmtpd from the dev extra; the
# browser is for the dashboard tests alone.
run: $(STAMP)
	$(BIN)/trellis dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest -q -rs -p no:cacheprovider -n 4 --dist loadfile --durations=15

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration tests/e2e

bench: install
	$(BIN)/python -m bench

# The whole stack end to end (~3 min; needs PostgreSQL on 127.0.0.1:5432). The 1M-event memory
# run: $(BIN)/python -m bench e2e --events 1000000
bench-e2e: install
	$(BIN)/python -m bench e2e

# Kill -9, database cut, provider faults, poison messages; then the invariants (~4 min).
chaos: install
	$(BIN)/python -m chaos

# Mutation tests of the pure domain modules ([tool.mutmut] in pyproject.toml); results stay in
# mutants/ (ignored), `$(BIN)/mutmut show <name>` prints a survivor's change.
mutate: install
	$(BIN)/mutmut run --max-children 2 && $(BIN)/mutmut results

clean:
	rm -rf $(VENV) .trellis .mypy_cache .ruff_cache .pytest_cache mutants
