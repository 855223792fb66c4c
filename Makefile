# The README's two commands: `make demo` and `make test`. Both create .venv inside the repo and
# install through constraints.txt, which pins the CPU build of PyTorch.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
# On a machine without a local CPU wheel of torch, add PyTorch's CPU index to avoid the CUDA build:
#   make demo TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt \
          $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))

.PHONY: demo test install install-dev clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(PY) pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[dev,music]"
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Train a VAE on scikit-learn's 8x8 digits (ships offline), write samples, reconstructions and
# the loss curves as PNGs into the run directory, score it (runs/demo/evaluation.json), then write
# the run's HTML report (runs/demo/report.html, its path printed last). Rerunning replaces runs/demo.
demo: $(VENV)/.installed
	$(VENV)/bin/vaelab train --data digits --model vae --epochs 150 --batch-size 64 --out runs/demo --overwrite
	$(VENV)/bin/vaelab evaluate runs/demo
	$(VENV)/bin/vaelab report runs/demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
