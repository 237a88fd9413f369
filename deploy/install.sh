#!/usr/bin/env bash
# Installs what netledger needs and is missing: Debian packages (as root, only those
# not yet installed) and the Python virtualenv with netledger in editable mode.
# Idempotent and quiet when everything is present. Used by `make up` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
# Dataplane tools the workers and the real-packet tests use (see ../shared/PLATFORM.md).
DEB_PACKAGES="python3-venv openvswitch-switch openvswitch-common iproute2 iptables nftables conntrack ipset
  ethtool iputils-ping curl iperf3 tcpdump socat haproxy dnsmasq-base busybox strongswan-charon
  strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins procps
  podman containernetworking-plugins runc conmon util-linux lxc lxc-templates"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $DEB_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install: apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "install: not root; skipping Debian packages:$missing (dataplane tests will skip)" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "install: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.netledger-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "install: pip install -e .[test]"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null
  "$VENV/bin/pip" install -q -e ".[test]"
  touch "$stamp"
fi

# The CNI plugin goes where runtimes look for plugins (CNI_PATH / cni_plugin_dirs); the
# network configurations in /etc/cni/net.d are the runtime's (or the operator's) business.
if [ "$(id -u)" = 0 ] && [ -x "$VENV/bin/netledger-cni" ]; then
  mkdir -p /opt/cni/bin
  ln -sfn "$(cd "$VENV/bin" && pwd)/netledger-cni" /opt/cni/bin/netledger-cni
fi
