# vocalsearch_tf: `make reproduce` regenerates every table and figure, `make test` tests.
# Both create .venv on first use; all they need on the machine is Python 3.11 and make.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --quiet --disable-pip-version-check

PROFILE ?= quick
DATASET ?= synthetic
DATA_DIR ?= data
SEED ?= 0
# with DATASET=vocalsketch: DATA_DIR is VocalSketch's folder; the pretraining data are here
VOXFORGE_DIR ?= data/voxforge
URBANSOUND8K_DIR ?= data/urbansound8k/UrbanSound8K
ifeq ($(DATASET),vocalsketch)
REAL_DATA := -p VOXFORGE_DIR "$(abspath $(VOXFORGE_DIR))" -p URBANSOUND8K_DIR "$(abspath $(URBANSOUND8K_DIR))"
endif
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# The CPU build: a plain `torch` requirement pulls several GB of CUDA packages.
TORCH := torch==2.13.0
# Renders the General MIDI sound font offline; its PyAudio requirement is for playback only.
TINYSOUNDFONT := tinysoundfont==0.3.7

.PHONY: setup reproduce test unit-test notebook-test bench synthetic download clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	$(PIP) install --no-deps $(TINYSOUNDFONT)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install $(TORCH)
	$(PIP) install -e '.[test]'
	touch $@

# Every numbered notebook, in order, under papermill; executed copies land in
# results/<profile>/<dataset>/notebooks/.
EXECUTED := results/$(PROFILE)/$(DATASET)/notebooks
reproduce: setup
	mkdir -p $(EXECUTED) figures
	@for notebook in $(NOTEBOOKS); do \
	  echo "== $$notebook (profile $(PROFILE), dataset $(DATASET))"; \
	  $(VENV)/bin/papermill --cwd notebooks --progress-bar "$$notebook" \
	    "$(EXECUTED)/$$(basename $$notebook)" \
	    -p PROFILE $(PROFILE) -p DATASET $(DATASET) -p DATA_DIR "$(abspath $(DATA_DIR))" \
	    -p SEED $(SEED) $(REAL_DATA) || exit 1; \
	done

test: unit-test notebook-test

unit-test: $(VENV)/.installed-test
	$(PY) -m pytest tests

# Notebooks read VOCALSEARCH_PROFILE in their parameters cell; nbval runs them as stored.
notebook-test: $(VENV)/.installed-test
	@if [ -n "$(NOTEBOOKS)" ]; then \
	  VOCALSEARCH_PROFILE=ci $(PY) -m pytest --nbval-lax $(NOTEBOOKS); \
	else echo "no notebooks yet"; fi

bench: $(VENV)/.installed-test
	@for script in benchmarks/frontends.py benchmarks/retrieval.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# The embedded data alone (the notebooks also make it on first use).
synthetic: setup
	$(PY) -m vocalsearch_tf.datasets make-synthetic --profile $(PROFILE) --dest "$(DATA_DIR)/synthetic/$(PROFILE)" --seed $(SEED)

# A real dataset: make download DATASET=vocalsketch|urbansound8k|voxforge DATA_DIR=...
download: setup
	$(PY) -m vocalsearch_tf.datasets download $(DATASET) --dest "$(DATA_DIR)"

clean:
	rm -rf results/*/*/notebooks results/ci figures/ci .pytest_cache
