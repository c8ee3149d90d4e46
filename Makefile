# yidang: the two commands of the README.
#   make demo   installs what the main job needs, builds the sample site
#   make test   installs what the tests need, runs lint and the whole suite
# Both work on a fresh Debian machine as root (or with sudo). While editing, `make quick`
# runs only the fast tests (no Chromium, nothing slow).

SHELL := /bin/bash
# Debian's own python3 (/usr/bin) is built with PGO and LTO; a pyenv or source build
# earlier on PATH usually is not (and --enable-shared costs more): measured on the
# 1,000-student check, 8.1-8.4 s against 9.7-10.8 s. So the venv is made from it.
PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: CJK fonts and HarfBuzz's subsetter for the booklets (WeasyPrint
# needs Pango); git for provenance. Tests add Chromium and poppler's pdftotext.
APT_DEMO := fonts-noto-cjk fontconfig libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 git
APT_TEST := $(APT_DEMO) chromium poppler-utils iproute2 nginx-light libatomic1

.PHONY: demo test quick lint bench clean apt-demo apt-test vendor launcher

demo: apt-demo $(VENV)/.demo vendor launcher
	$(BIN)/yidang check archives
	$(BIN)/yidang build
	@echo
	@echo "示例站点已生成 / the protected sample site is in ./site (each student page offers its PDF booklet)"
	@echo "查看 / to open it: open site/index.html in a browser, and log in with a demo account:"
	@sed -n "/^- user: intake/q; s/^- user: /    /p; s/^  passphrase: /      passphrase: /p" archives/access/demo-credentials.yml
	@echo "(Or: cd site && python3 -m http.server --bind 127.0.0.1 8000, then http://127.0.0.1:8000/)"

test: apt-test $(VENV)/.test vendor launcher lint
	$(BIN)/pytest

# Tests marked neither slow nor browser (see tests/conftest.py): well under a minute.
quick: apt-test $(VENV)/.test vendor
	$(BIN)/pytest -m "not slow and not browser"

# ruff (lint and format) and mypy (types, settings in pyproject.toml) over the code.
lint: $(VENV)/.test
	$(BIN)/ruff check generator tests bench scripts
	$(BIN)/ruff format --check generator tests bench scripts
	$(BIN)/mypy

bench: $(VENV)/.demo vendor
	$(BIN)/python bench/run.py --students 1000 --records-per-student 150

# A bureau hosting many schools: 20 synthetic schools of 300 students built one after another,
# then two at a time (docs/performance.md). A quick look: make bench-bureau BUREAU="--schools 3 --students 50"
.PHONY: bench-bureau
bench-bureau: $(VENV)/.demo vendor
	$(BIN)/python bench/bureau.py $(BUREAU)

# `yidang` on the PATH, as the README writes it: a link to ./yidang, which runs this checkout's
# .venv/bin/yidang. Where /usr/local/bin cannot be written (and no sudo), ./yidang still works.
launcher:
	@if [ "$$(readlink -f /usr/local/bin/yidang 2>/dev/null)" != "$(CURDIR)/yidang" ]; then \
	  $(SUDO) ln -sfn "$(CURDIR)/yidang" /usr/local/bin/yidang \
	    && echo "yidang → $(CURDIR)/yidang (/usr/local/bin/yidang)" \
	    || echo "could not link /usr/local/bin/yidang: use ./yidang in $(CURDIR)"; \
	fi

# Install only the Debian packages that are missing (apt-get update once, if needed).
define apt_install
	missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

apt-demo:
	@$(call apt_install,$(APT_DEMO))

apt-test:
	@$(call apt_install,$(APT_TEST))

# Debian's python3 needs python3-venv for `python3 -m venv`.
$(VENV)/bin/python:
	@[ -x "$$(command -v $(PYTHON))" ] || { $(call apt_install,python3); }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { $(call apt_install,python3-venv); }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.demo: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.demo

# The browser libraries the site ships (pinned, verified; see scripts/vendor.py).
vendor: | $(VENV)/bin/python  # nothing to do when site_templates/vendor/ holds them
	$(BIN)/python scripts/vendor.py

clean:
	rm -rf site .cache .pytest_cache .ruff_cache
