#!/usr/bin/env bash
# Puts the provider (release build) in Terraform's implied local mirror, so that a plain
# `terraform init` finds `mixpanel-access/mixpanel` with no CLI configuration:
#
#   ~/.terraform.d/plugins/registry.terraform.io/mixpanel-access/mixpanel/<version>/<os>_<arch>/
#     terraform-provider-mixpanel_v<version>
#
# Environment:
#   TF_PLUGIN_MIRROR  another mirror directory (default: ~/.terraform.d/plugins)
#   INSTALL_BIN       install this binary instead of building the release one
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# shellcheck source=scripts/platform.sh
. "$root/scripts/platform.sh"

version=$(workspace_version)
platform=$(host_platform)
mirror=${TF_PLUGIN_MIRROR:-$HOME/.terraform.d/plugins}

if [ -n "${INSTALL_BIN:-}" ]; then
  bin=$INSTALL_BIN
else
  echo "== cargo build --release -p terraform-provider-mixpanel" >&2
  cargo build --release --locked -p terraform-provider-mixpanel --bins >&2
  bin=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release/terraform-provider-mixpanel
fi
[ -x "$bin" ] || { echo "$bin is missing" >&2; exit 1; }

dir="$mirror/registry.terraform.io/mixpanel-access/mixpanel/$version/$platform"
mkdir -p "$dir"
# Copy to a temporary name then rename: a terraform running meanwhile never sees half a binary.
cp "$bin" "$dir/.terraform-provider-mixpanel_v$version.tmp"
chmod 755 "$dir/.terraform-provider-mixpanel_v$version.tmp"
mv -f "$dir/.terraform-provider-mixpanel_v$version.tmp" "$dir/terraform-provider-mixpanel_v$version"
echo "installed $dir/terraform-provider-mixpanel_v$version"
cat <<EOF
A plain \`terraform init\` now finds mixpanel-access/mixpanel $version here, as long as your CLI
configuration has no provider_installation block (with one, add a filesystem_mirror for
$mirror). A configuration initialised with an older build keeps that build's hash in
.terraform.lock.hcl: run \`terraform init -upgrade\` there after reinstalling.
EOF
