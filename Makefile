# Thin wrapper around CMake; see README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps deps-build check check-asan demo bench clean format install fuzz fuzz-build

all: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The files are listed in docs/install.md (tests/e2e/op_install.sh checks).
# An existing build (e.g. BUILD=build-asan) is installed as it is.
install:
	@test -f $(BUILD)/CMakeCache.txt || $(MAKE) all
	cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

deps-build:
	@scripts/install-deps build

deps:
	@scripts/install-deps test

# The fuzz targets run briefly inside check (ctest fuzz/<target>/run).
check: deps all fuzz-build
	cmake -S . -B $(BUILD) -DPVX_FUZZ_BUILD=$(CURDIR)/$(FUZZ_BUILD) >/dev/null
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE known-bug

# libFuzzer targets (clang, ASan + UBSan) in their own build directory.
fuzz-build: deps-build
	@scripts/install-deps fuzz
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DPVX_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz-all

# Every target for FUZZ_SECONDS (docs/testing.md); stops at the first crash.
fuzz: all fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		PVX_BIN=$(CURDIR)/$(BUILD)/bin PVX_SRC=$(CURDIR) bash tests/fuzz/run \
			fuzz $(CURDIR)/$(FUZZ_BUILD)/bin/fuzz_$$t $$t $(FUZZ_SECONDS) || exit 1; \
	done

check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVX_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE known-bug

demo: deps all
	scripts/demo

bench: all
	@scripts/install-deps all
	PVX_BIN=$(CURDIR)/$(BUILD)/bin bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
