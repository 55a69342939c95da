#!/usr/bin/env bash
# The release layout for the host platform, the way the Terraform registry expects it:
#
#   dist/terraform-provider-mixpanel_<version>_<os>_<arch>.zip    (terraform-provider-mixpanel_v<version>)
#   dist/terraform-provider-mixpanel_<version>_manifest.json      (protocol 6.0)
#   dist/terraform-provider-mixpanel_<version>_SHA256SUMS         (the zip and the manifest)
#   dist/mixpanel-rotator_<version>_<os>_<arch>.tar.gz
#   dist/mixpanel-emulator_<version>_<os>_<arch>.tar.gz
#   dist/SHA256SUMS                                               (every file above)
#
# The version is the workspace's (`[workspace.package] version` in Cargo.toml), os and arch the
# host's in Go's names (linux_amd64, darwin_arm64, ...). Archives are made with python3's zipfile
# and tarfile (no zip binary needed) with fixed timestamps, so the same binaries give the same
# bytes.
#
# Environment:
#   RELEASE_OUT         output directory (default: dist)
#   RELEASE_BIN_DIR     take the binaries from this directory instead of building them with
#                       `cargo build --release` (the install-path test uses target/debug)
#   RELEASE_COMPONENTS  which of "provider rotator emulator" to package (default: all three)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# shellcheck source=scripts/platform.sh
. "$root/scripts/platform.sh"

out=${RELEASE_OUT:-dist}
components=${RELEASE_COMPONENTS:-provider rotator emulator}
version=$(workspace_version)
platform=$(host_platform)

declare -A package_of=([provider]=terraform-provider-mixpanel [rotator]=mixpanel-rotator [emulator]=mixpanel-emulator)
for c in $components; do
  [ -n "${package_of[$c]:-}" ] || { echo "unknown component $c (provider, rotator, emulator)" >&2; exit 2; }
done

if [ -n "${RELEASE_BIN_DIR:-}" ]; then
  bin_dir=$RELEASE_BIN_DIR
else
  # One package at a time: built together, cargo unifies their dependencies' features and the
  # provider would differ from the one `make install` builds on its own.
  for c in $components; do
    echo "== cargo build --release -p ${package_of[$c]}" >&2
    cargo build --release --locked -p "${package_of[$c]}" --bins >&2
  done
  bin_dir=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/release
fi
for c in $components; do
  [ -x "$bin_dir/${package_of[$c]}" ] || { echo "$bin_dir/${package_of[$c]} is missing" >&2; exit 1; }
done

mkdir -p "$out"
provider_files=()
all_files=()
for c in $components; do
  bin="$bin_dir/${package_of[$c]}"
  if [ "$c" = provider ]; then
    zip="terraform-provider-mixpanel_${version}_${platform}.zip"
    manifest="terraform-provider-mixpanel_${version}_manifest.json"
    # The registry's layout: one binary named with its version at the root of the zip.
    python3 - "$bin" "terraform-provider-mixpanel_v${version}" "$out/$zip" <<'PY'
import sys, zipfile
src, name, dest = sys.argv[1:]
info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)  # a regular file, executable
info.create_system = 3                 # unix, so the mode above is honoured
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dest, "w") as z:
    z.writestr(info, f.read())
PY
    cp terraform-registry-manifest.json "$out/$manifest"
    provider_files+=("$zip" "$manifest")
    all_files+=("$zip" "$manifest")
  else
    name="${package_of[$c]}_${version}_${platform}"
    python3 - "$bin" "$name" "$out/$name.tar.gz" README.md <<'PY'
import gzip, io, sys, tarfile
src, name, dest, readme = sys.argv[1:]
def add(tar, path, arcname, mode):
    with open(path, "rb") as f:
        data = f.read()
    info = tarfile.TarInfo(f"{name}/{arcname}")
    info.size, info.mode, info.mtime = len(data), mode, 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))
with open(dest, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
    add(tar, src, name.split("_")[0], 0o755)
    add(tar, readme, "README.md", 0o644)
PY
    all_files+=("$name.tar.gz")
  fi
done

sums() { # output file, then the files it lists (relative to $out)
  local dest=$1
  shift
  (cd "$out" && python3 - "$@" <<'PY'
import hashlib, sys
for name in sys.argv[1:]:
    with open(name, "rb") as f:
        print(f"{hashlib.sha256(f.read()).hexdigest()}  {name}")
PY
  ) >"$out/$dest"
}
if [ ${#provider_files[@]} -gt 0 ]; then
  sums "terraform-provider-mixpanel_${version}_SHA256SUMS" "${provider_files[@]}"
fi
sums SHA256SUMS "${all_files[@]}"
for f in "${all_files[@]}"; do echo "$out/$f"; done
