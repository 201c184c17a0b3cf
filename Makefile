# Set-up and checks for a fresh machine: `make demo`, `make test`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Debian's packaged crate sources: regex and serde_json for the tests, a >100k-line corpus for the benchmarks.
TEST_CRATES := librust-regex-dev librust-serde-json-dev librust-humantime-dev librust-either-dev librust-bytes-dev \
	librust-petgraph-dev librust-stable-deref-trait-dev
BENCH_CRATES := librust-regex-dev librust-serde-json-dev librust-syn-dev librust-tokio-dev librust-serde-dev \
	librust-humantime-dev librust-either-dev librust-termcolor-dev librust-fixedbitset-dev librust-scopeguard-dev \
	rust-src
# The rustc error index and the Rust Book: broken programs others wrote, with their corrections (bench/intent.py).
BENCH_DOCS := rust-doc
# bench/monorepo.py's million lines: these and their dependencies, the newest version of each crate.
MONOREPO_CRATES := librust-clap-dev librust-chrono-dev librust-nom-dev librust-hyper-dev librust-futures-util-dev \
	librust-itertools-dev librust-h2-dev librust-tracing-subscriber-dev librust-nix-dev librust-rustix-dev \
	librust-object-dev librust-gimli-dev librust-syntect-dev librust-pest-dev librust-image-dev librust-rustls-dev \
	librust-bstr-dev librust-quick-xml-dev librust-url-dev librust-http-dev librust-tokio-util-dev librust-time-dev \
	librust-num-bigint-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test test-python test-editors bench install crates bench-crates clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU build of torch first: an unpinned resolve would fetch a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# apt-get only when a package is missing; `update` only when the install needs it.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing $$missing"; \
	  $(SUDO) apt-get install -y -q $$missing >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q $$missing >/dev/null; }; \
	fi
endef

crates:
	$(call apt_install,$(TEST_CRATES))

bench-crates:
	$(call apt_install,$(BENCH_CRATES) $(BENCH_DOCS) $(MONOREPO_CRATES))

demo: install
	$(BIN)/rusta demo

# Both halves run even when the first fails, so one run shows every failure.
test: install crates
	@rc=0; $(MAKE) --no-print-directory test-python || rc=1; \
	$(MAKE) --no-print-directory test-editors || rc=1; exit $$rc

test-python: install crates
	@# pytest exits 5 when it collects nothing (say, a -k filter that matches no test): not a failure.
	$(BIN)/python -m pytest -q tests $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

test-editors: install crates
	editors/run-tests.sh

bench: install bench-crates
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/parse.py
	@for b in ingest retrieval explain fix fix_actions cascades learning intent monorepo team_sim; do \
	  if [ -f bench/$$b.py ]; then echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; fi; \
	done
	@# 1,000 saves in the real server (about 20 minutes on 2 cores): niced, so the machine stays usable.
	@echo "== bench/soak.py"; nice -n 10 $(BIN)/python bench/soak.py

clean:
	rm -rf $(VENV) target editors/vscode/node_modules editors/vscode/out
