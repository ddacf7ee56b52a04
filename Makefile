# grpcx: `make demo` runs the main job, `make test` runs every test.
# Both create .venv and install what they need, including Debian tools (apt-get).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_TOOLS := nghttp2-client nghttp2-server
# grpc-go 1.33, built offline in GOPATH mode from Debian's packages: the interop tests'
# peer (tests/interop/go) and the native reference for `make bench` (bench/suite/go).
GO_DEBIAN := golang-go golang-google-grpc-dev golang-google-protobuf-dev
BENCH_STAMP := $(VENV)/.bench-installed
# The floor run's venv: grpcx's runtime dependencies at their declared lower bounds.
MIN_VENV := .venv-min
MIN_PY := $(MIN_VENV)/bin/python
MIN_STAMP := $(MIN_VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: test test-min-deps demo bench lint docs tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

# Real peers used by the tests and the demo: nghttp, h2load, nghttpd; grpc-go's packages.
tools:
	@if ! command -v nghttp >/dev/null || ! command -v h2load >/dev/null \
	    || ! command -v nghttpd >/dev/null; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEBIAN_TOOLS); \
	fi
	@if ! command -v go >/dev/null || ! test -d /usr/share/gocode/src/google.golang.org/grpc \
	    || ! test -d /usr/share/gocode/src/google.golang.org/protobuf; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(GO_DEBIAN); \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $(DOCS_STAMP)

# The API reference from the docstrings (mkdocs.yml) into site/. --strict: a broken
# cross-reference, a page missing from the nav or a docstring griffe cannot parse fails it.
docs: $(DOCS_STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

# The floor run first, so that the whole suite's summary is the closing line.
test: $(STAMP) tools lint docs
	$(MAKE) --no-print-directory test-min-deps
	$(PY) -m pytest -q

# pyproject.toml's floors are promises: install exactly them (tests/min_deps.py derives the
# pins from pyproject.toml) and grpcx without its dependencies, so nothing newer sneaks in.
$(MIN_STAMP): pyproject.toml tests/min_deps.py $(STAMP)
	rm -rf $(MIN_VENV)
	$(PYTHON) -m venv $(MIN_VENV)
	$(PY) tests/min_deps.py > $(MIN_VENV)/requirements.txt
	$(MIN_PY) -m pip install -q -r $(MIN_VENV)/requirements.txt
	$(MIN_PY) -m pip install -q --no-deps -e .
	touch $(MIN_STAMP)

# Every test that needs no grpcio-tools output, on the floors (tests/conftest.py says
# which directories GRPCX_MIN_DEPS=1 leaves out, and why).
test-min-deps: $(MIN_STAMP) tools
	$(MIN_PY) -c 'import google.protobuf as p; print("floor run: protobuf", p.__version__)'
	GRPCX_MIN_DEPS=1 $(MIN_PY) -m pytest -q

demo: $(STAMP) tools
	$(PY) -m grpcx.demo

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(BENCH_STAMP)

# Micro-benchmarks of the cores, then every scenario against every implementation, then
# the targets the suite has not met against what Python itself allows (bench.suite.floor).
bench: $(BENCH_STAMP) tools
	$(PY) bench/bench_hpack.py
	$(PY) bench/bench_frames.py
	$(PY) bench/bench_connection.py
	$(PY) bench/bench_server_path.py
	$(PY) bench/bench_client_path.py
	$(PY) -m bench.suite.run $(BENCH_ARGS)
	$(PY) -m bench.suite.floor

clean:
	rm -rf $(VENV) $(MIN_VENV) site build dist src/*.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
