# Thin wrapper around CMake; see README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
MAKEFLAGS += --no-print-directory

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps deps-build check check-asan demo bench clean format install

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

check: deps all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPVX_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

demo: deps all
	scripts/demo

bench: all
	@scripts/install-deps all
	PVX_BIN=$(CURDIR)/$(BUILD)/bin bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
