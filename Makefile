# The two commands of the README: `make run` and `make test`. Each one
# installs what is missing first (scripts/setup.sh), then builds.
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all setup build run test unit bench fuzz soak clean format FORCE

all: build

# `make setup` always runs the set-up; a build runs it only when one of its
# inputs changed since it last succeeded here (or never did).
SETUP_INPUTS := scripts/setup.sh tests/requirements.txt package-lock.json \
	$(wildcard embedded-db/*.go embedded-db/internal/*/*.go embedded-db/go.*) $(wildcard tools/compose-check/*.go tools/compose-check/go.*)
setup:
	@scripts/setup.sh
	@touch .setup-done

.setup-done: $(SETUP_INPUTS)
	@scripts/setup.sh
	@touch $@

# CMake configures again when CMAKE_FLAGS change: the flags are a file that
# build.ninja depends on, rewritten only when they differ.
%/cmake-flags: FORCE
	@mkdir -p $*
	@echo '$(CMAKE_FLAGS)' | cmp -s - $@ || echo '$(CMAKE_FLAGS)' > $@

$(BUILD)/build.ninja: $(BUILD)/cmake-flags
	cmake -S . -B $(BUILD) -G Ninja -DROOST_WERROR=ON $(CMAKE_FLAGS)

build: .setup-done $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	@scripts/run.sh $(BUILD)

# The integration tests start their own embedded database, whatever is
# configured, unless ROOST_TEST_MONGODB_URI names one to test against (README).
test: export ROOST_NEED_EMBEDDED_DB=1
test: build $(ASAN_BUILD)/build.ninja
	cd $(BUILD) && ctest --output-on-failure --timeout 900
	@echo "== the same tests against the ASan/UBSan/LeakSanitizer build =="
	cmake --build $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 900

$(ASAN_BUILD)/build.ninja: $(ASAN_BUILD)/cmake-flags
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DROOST_WERROR=ON -DROOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@bench/run.sh $(BUILD)

# Not part of `make test`: each libFuzzer harness for FUZZ_SECONDS (60) under
# ASan + UBSan, in build-fuzz/ (scripts/fuzz.sh).
fuzz:
	@scripts/fuzz.sh

# Five minutes (SOAK_SECONDS) of mixed traffic against the plain build (its
# RSS must stay flat) and, at the same time, the ASan build (no sanitizer
# report), every process's RSS printed once a minute (bench/soak.py).
soak: build $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)
	@$(CURDIR)/.venv/bin/python bench/soak.py $(BUILD) $(ASAN_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz .setup-done
