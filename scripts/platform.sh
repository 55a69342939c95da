# Sourced by release.sh and install.sh: the workspace version and the host platform in
# Terraform's (Go's) names.

# `[workspace.package] version` of Cargo.toml, as cargo reads it (every crate inherits it).
workspace_version() {
  cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
versions = {p["version"] for p in meta["packages"] if p["name"] == "terraform-provider-mixpanel"}
if len(versions) != 1:
    sys.exit("cannot read the provider version from cargo metadata")
print(versions.pop())'
}

# linux_amd64, linux_arm64, darwin_arm64, ...
host_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    FreeBSD) os=freebsd ;;
    *) echo "unsupported OS $(uname -s)" >&2; return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    i386 | i686) arch=386 ;;
    armv7l | armv6l) arch=arm ;;
    *) echo "unsupported architecture $(uname -m)" >&2; return 1 ;;
  esac
  echo "${os}_${arch}"
}
