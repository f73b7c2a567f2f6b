# duban — one command for each thing a developer or operator does.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test test-fast check lint typecheck bench clean

install: $(STAMP)

# Re-install only when the project's dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A try-out: the bundled sample plan, moved to this year, in its own database (sample.db) with
# the example configuration (every message on the console), never in the operator's duban.db.
run: install
	DUBAN_DATABASE__URL=sqlite:///sample.db $(BIN)/duban --config config.example.toml run --sample

# A populated demo database (demo.db): the sample plan with a year of scripted replies.
DEMO := DUBAN_DATABASE__URL=sqlite:///demo.db
demo: install
	rm -f demo.db demo.db-wal demo.db-shm
	$(DEMO) $(BIN)/duban import examples/zhoushan-2020-key-tasks.txt --at 2020-01-01T09:00
	$(DEMO) $(BIN)/duban simulate --from 2020-01-01 --to 2020-12-31 \
		--replies examples/zhoushan-2020-replies.csv --apply --json > demo-timeline.json
	@echo "demo.db is ready (timeline in demo-timeline.json); try:"
	@echo "  $(DEMO) $(BIN)/duban tasks show 51"

# On every core (at most four): each worker has its own PostgreSQL database and SQLite files.
test: install
	$(BIN)/pytest -q --numprocesses=auto --maxprocesses=4

# Everything but the tests marked slow (real processes, the real clock, a year simulated,
# stories lived month by month, the headless browser): under a minute.
test-fast: install
	$(BIN)/pytest -q -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/intake_bench.py
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/delivery_bench.py
	$(BIN)/python bench/inbound_bench.py
	$(BIN)/python bench/replies_bench.py
	$(BIN)/python bench/scaleout_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache duban.db* sample.db* demo.db* demo-timeline.json
