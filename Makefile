# One command per task; CI (.ci/run) calls `make test`, exactly as a developer does.
# Every target installs what it needs into a virtualenv (.venv for CPython 3.11, .venv-X.Y for
# the others), so a fresh machine with only Rust and Python can run them.

PY_MAIN     ?= 3.11
PY_OTHERS   ?= 3.10 3.12 3.13
VENV        := .venv
VPY         := $(VENV)/bin/python
PIP_FLAGS   := --quiet --disable-pip-version-check

.PHONY: help demo test test-rust lint-rust lint-python test-python test-versions sanitize miri fuzz bench develop clean

help:  ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VPY):
	$$(scripts/find-python $(PY_MAIN) || true) -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)
	$(VPY) -m pip install $(PIP_FLAGS) --upgrade pip

install: $(VPY)  ## Build shoal (release) into .venv with test and lint tools
	$(VPY) -m pip install $(PIP_FLAGS) ".[test,lint,spark]"

demo: install  ## The classic experiment: 1M records per approach, measured on this machine
	$(VPY) -m shoal demo --svg demo.svg

test: lint-rust test-rust lint-python test-python test-versions sanitize miri  ## Run every check and test

lint-rust:  ## cargo fmt --check, clippy -D warnings, no module cycle
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	python3 scripts/module-graph > /dev/null || python3 scripts/module-graph
	@# The binding reads per-version layouts under #[cfg(Py_3_1x)]: lint each installed version.
	@for v in $(PY_OTHERS); do \
	  py=$$(scripts/find-python $$v); [ -n "$$py" ] || continue; \
	  echo "== clippy for CPython $$v"; \
	  PYO3_PYTHON=$$py CARGO_TARGET_DIR=target/py$$v cargo clippy -p shoal-python --all-targets -- -D warnings || exit 1; \
	done

test-rust:  ## cargo test (unit tests + proptest models of the core)
	cargo test --workspace

lint-python: install  ## ruff check, ruff format --check, mypy and pyright (package + typing tests), stubtest
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .
	$(VPY) -m mypy
	$(VPY) -m pyright --pythonpath $(VPY) python/shoal tests/typing
	$(VPY) -m mypy.stubtest shoal._shoal

test-python: install  ## pytest on CPython $(PY_MAIN), README examples included
	$(VPY) -m pytest tests

test-versions:  ## Build and run pytest on the other CPython versions that are installed
	@for v in $(PY_OTHERS); do \
	  py=$$(scripts/find-python $$v); \
	  if [ -z "$$py" ]; then echo "NOTE: CPython $$v is not installed here; skipping its tests"; continue; fi; \
	  echo "== CPython $$v ($$py)"; \
	  [ -x .venv-$$v/bin/python ] || $$py -m venv .venv-$$v || exit 1; \
	  .venv-$$v/bin/python -m pip install $(PIP_FLAGS) ".[test]" || exit 1; \
	  .venv-$$v/bin/python -m pytest tests -q || exit 1; \
	done

# The AddressSanitizer run needs nightly Rust (-Zsanitizer) and GCC's libasan; where nightly is
# missing it says so and is skipped. The demo's memory test, the leak test and the test of
# RSS while measuring are left out: ASan's allocator and quarantine change RSS. DuckDB's C++ exceptions need libstdc++ preloaded
# with libasan.
ASAN_PKG := $(CURDIR)/target/asan/pkg
# The Spark test is left out: Spark's launcher scripts hang under the sanitizer's LD_PRELOAD
# (a `ps` they run never returns), and it tests the engine, which other runs cover.
sanitize: install  ## pytest on an AddressSanitizer build of the extension (nightly Rust)
	@if ! cargo +nightly --version >/dev/null 2>&1; then \
	  echo "NOTE: no nightly Rust here; skipping the AddressSanitizer run"; exit 0; fi; \
	set -e; \
	RUSTFLAGS="-Zsanitizer=address" PYO3_PYTHON=$(abspath $(VPY)) CARGO_TARGET_DIR=target/asan \
	  cargo +nightly build -p shoal-python --target x86_64-unknown-linux-gnu; \
	rm -rf $(ASAN_PKG) && mkdir -p $(ASAN_PKG) && cp -r python/shoal $(ASAN_PKG)/; \
	rm -f $(ASAN_PKG)/shoal/*.so; \
	cp target/asan/x86_64-unknown-linux-gnu/debug/lib_shoal.so \
	  $(ASAN_PKG)/shoal/_shoal$$($(VPY) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"); \
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
	  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 PYTHONPATH=$(ASAN_PKG) \
	  $(VPY) -m pytest tests -q -p no:cacheprovider --ignore=tests/examples/test_demo.py \
	  --ignore=tests/reliability/test_leaks.py \
	  --deselect tests/measure/test_measure.py::test_rss_grows_less_than_one_percent_while_measuring_a_million_instances \
	  --deselect tests/files/test_dataset.py::test_pyspark_reads_the_dataset_and_shoal_reads_what_spark_writes

# Miri needs nightly Rust and its miri component; where either is missing it says so and is
# skipped, like the AddressSanitizer run. About 11 minutes.
# Miri runs one test per process, two at a time, through cargo-nextest where it is installed
# (Miri is single-threaded; these machines have two cores); `cargo miri test` otherwise.
miri:  ## Miri (undefined behaviour) on shoal-core's tests (nightly Rust)
	@if ! cargo +nightly --version >/dev/null 2>&1 || \
	  ! rustup component add --toolchain nightly miri rust-src >/dev/null 2>&1; then \
	  echo "NOTE: no nightly Rust with Miri here; skipping the Miri run"; exit 0; fi; \
	if cargo nextest --version >/dev/null 2>&1; then run="nextest run -j 2 --no-fail-fast"; \
	  else run="test"; fi; \
	MIRIFLAGS="-Zmiri-disable-isolation -Zmiri-ignore-leaks" PROPTEST_CASES=4 cargo +nightly miri $$run -p shoal-core -- \
	  --skip codes_widen_as_the_dictionary_grows --skip overwrites_are_reclaimed_past_the_threshold \
	  --skip overwrites_never_take_the_rows_past_the_limit --skip error_stays_small

FUZZ_CASES ?= 1000000
fuzz:  ## The fuzz properties at length (store, damaged and cut files): FUZZ_CASES inputs each (make test runs 256)
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p shoal-core --test fuzz
	PROPTEST_CASES=$(FUZZ_CASES) cargo test --release -p shoal-io --test files --test writer --test dataset

bench: $(VPY)  ## Run the benchmarks against peers (installs the peers)
	$(VPY) -m pip install $(PIP_FLAGS) ".[bench]"
	$(VPY) benches/run.py
	$(VPY) benches/rich.py

develop: $(VPY)  ## Fast rebuild into .venv for development (maturin develop --release)
	$(VPY) -m pip install $(PIP_FLAGS) maturin
	$(VPY) -m maturin develop --release

clean:  ## Remove virtualenvs and build products
	rm -rf .venv .venv-* target python/shoal/*.so
