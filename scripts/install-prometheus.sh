#!/bin/sh
# Installs Debian's `prometheus` package (it ships `promtool` and the server) when either is
# missing: the rotator's alert-rule tests run `promtool test rules` and a real Prometheus.
# Used by `make setup` and by the test kit (testkit::prometheus) when a test finds none.
# Exit 0: both are on PATH. Non-zero: they could not be had (no apt-get, no root and no
# password-less sudo, or the package is not reachable); the tests then skip, loudly.
#
# The package's maintainer scripts try to start a `prometheus` service. In a container
# without systemd, invoke-rc.d (or policy-rc.d) usually refuses; where it did start one, it
# is stopped again and, under systemd, disabled: the tests start their own server.
set -u

have() { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; }
have && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-prometheus: no apt-get here: install Prometheus (promtool and the server) by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-prometheus: not root and no password-less sudo: run 'sudo apt-get install prometheus'" >&2
    exit 1
  fi
fi

install_pkg() {
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
}
echo "install-prometheus: apt-get install prometheus (for promtool and the alert-rule tests)" >&2
if ! install_pkg >/dev/null 2>&1; then
  # The package lists may be missing or old: update once, then try again.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1
  if ! install_pkg >&2; then
    echo "install-prometheus: apt-get install prometheus failed" >&2
    exit 1
  fi
fi

# Stop whatever service the package started: by its pid file (the sysvinit script's), and
# under systemd through systemctl.
PIDFILE=/run/prometheus/prometheus.pid
if [ -f "$PIDFILE" ] && command -v start-stop-daemon >/dev/null 2>&1; then
  $SUDO start-stop-daemon --stop --quiet --retry 10 --pidfile "$PIDFILE" --exec /usr/bin/prometheus --remove-pidfile || true
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi

have || { echo "install-prometheus: promtool or prometheus still not on PATH after the install" >&2; exit 1; }
exit 0
