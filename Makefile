# Two commands on a fresh clone: `make test` and `make demo`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hipbench-installed

.PHONY: test test-slow test-1thread test-browser demo docs install clean-venv

install: $(STAMP)

# torch first, from the pinned local wheels, so no later requirement can pull a different build
$(STAMP): setup.cfg setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -e ".[dev,serve]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check hipbench plugins tests benchmarks examples
	$(BIN)/mypy hipbench
	$(BIN)/python -m pytest -q

# the tests marked slow (long cross-products, the Slurm-local and Ray executors, the wheel and sdist); CI runs them
# after `make test`
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# the default suite again with one torch thread (tests must hold with 1 and with 2 threads); CI runs it
test-1thread: $(STAMP)
	HIPBENCH_TEST_THREADS=1 $(BIN)/python -m pytest -q

# the HTML leaderboard driven in the system Chromium (Debian: apt-get install -y chromium chromium-driver)
test-browser: $(STAMP)
	$(BIN)/python -m pytest -q -m browser

# the main job on the embedded synthetic phantom; prints where the leaderboard is
demo: $(STAMP)
	$(BIN)/hipbench run benchmarks/quick.yaml --out runs/quick
	@echo
	@echo "Leaderboard: runs/quick/leaderboard.md (also .csv and .html, with plots)"
	@echo "Measure radiographs with it: $(BIN)/hipbench predict hipbench/samples/jordan_xray/dicoms --model runs/quick"

# the documentation site into site/ (MkDocs + Material, mkdocs-click, mkdocstrings): the leaderboard pages are
# regenerated from leaderboard/, and --strict fails on any broken link or reference
docs: $(STAMP)
	$(BIN)/python -m pip install -e ".[docs]"
	$(BIN)/python docs/gen_leaderboards.py
	$(BIN)/mkdocs build --strict

clean-venv:
	rm -rf $(VENV)
