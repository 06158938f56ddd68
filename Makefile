# The two commands of the README: `make run` and `make test`. Each one
# installs what is missing first (scripts/setup.sh), then builds.
BUILD ?= build
ASAN_BUILD ?= build-asan
CMAKE_FLAGS ?=

.PHONY: all setup build run test unit bench clean

all: build

setup:
	@scripts/setup.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DROOST_WERROR=ON $(CMAKE_FLAGS)

build: setup $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	@scripts/run.sh $(BUILD)

# The integration tests start their own embedded database, whatever is configured.
test: export ROOST_NEED_EMBEDDED_DB=1
test: build $(ASAN_BUILD)/build.ninja
	cd $(BUILD) && ctest --output-on-failure --timeout 900
	@echo "== the same tests against the ASan/UBSan/LeakSanitizer build =="
	cmake --build $(ASAN_BUILD)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 900

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DROOST_WERROR=ON -DROOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_FLAGS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
