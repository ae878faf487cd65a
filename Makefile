# The two commands of the README: `make demo` runs the agent against the hardware simulator;
# `make test` runs the whole test suite. Both install what is missing first.
SWIFT_PATH := $(if $(wildcard /opt/swift/usr/bin/swift),/opt/swift/usr/bin:,)
export PATH := $(SWIFT_PATH)$(PATH)
BIN := .build/debug

.PHONY: setup check-setup build demo demo-forever test embedded clean

# Installs what is missing (apt, --no-install-recommends), then checks it all (scripts/setup.sh).
setup:
	@scripts/setup.sh

# Checks only, installs nothing: names the first missing package in one line.
check-setup:
	@scripts/setup.sh --check

build: setup
	swift build

demo: build
	@mkdir -p out
	$(BIN)/lane-sim demo --scenario HardwareSim/scenarios/demo.yaml --truth out/demo-truth.jsonl --trace out/demo-trace.jsonl

# The same, replaying the scenario with a new seed each round until Ctrl-C.
demo-forever: build
	@mkdir -p out
	$(BIN)/lane-sim demo --scenario HardwareSim/scenarios/demo.yaml --keep-running

embedded:
	scripts/check-embedded.sh

test: build embedded
	swift build --build-tests
	scripts/test.sh
	scripts/gpio-vm.sh
	scripts/fuzz.sh smoke 3

clean:
	rm -rf .build out
