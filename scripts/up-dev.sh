#!/usr/bin/env bash
# `make up`: deploy the local dev stack on this Linux machine. Safe to re-run.
#   1. checks every prerequisite in one pass and prints how to fix each one that is missing:
#      a reachable Docker engine, Python >= 3.11 with venv, root or sudo, cryptsetup and the
#      tools the LUKS programs call, a kernel with dm-crypt, and the Pulumi CLI of the version
#      requirements.txt pins (installed through the official installer when it is missing);
#   2. the Python virtualenvs (.venv for the program, policy/.venv for the policy pack);
#   3. a local file state backend (.state/) with the passphrase secrets provider (a random
#      passphrase in .state/passphrase, mode 0600): no Pulumi account needed;
#   4. the `dev` stack, then `pulumi up` with the policy pack enforced: the preview is shown and
#      `pulumi up` asks before it changes anything; YES=1 answers yes (the preview is still shown).
# `up-dev.sh --check` runs step 1 only, installing nothing.
# The CLI environment (backend, passphrase file, PATH) is scripts/pulumi-env.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
sbin_path="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
pinned=$(sed -n 's/^pulumi==\([0-9][0-9.]*\)$/\1/p' requirements.txt)
[ -n "$pinned" ] || { printf 'error: requirements.txt pins no pulumi==X.Y.Z\n' >&2; exit 1; }
installer="curl -fsSL https://get.pulumi.com | sh -s -- --version $pinned"

problems=()
notes=()
problem() { problems+=("$1"); }
note() { notes+=("$1"); }
say() { printf '==> %s\n' "$*"; }
on_path() { PATH="$sbin_path" command -v "$1" >/dev/null 2>&1; }

check_docker() {
  if ! command -v docker >/dev/null 2>&1; then
    problem "Docker: no docker CLI. Install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io;
    others: https://docs.docker.com/engine/install/)."
  elif ! docker info >/dev/null 2>&1; then
    problem "Docker: the engine is not reachable (docker info fails). Start it (sudo systemctl start docker)
    or give your user access to it (sudo usermod -aG docker \"\$USER\", then log in again)."
  fi
}

check_python() {
  local version
  if ! version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
    problem "Python: $python not found. Install Python 3.11 or newer (Debian/Ubuntu: sudo apt-get install python3 python3-venv)."
    return
  fi
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    problem "Python: $python is $version; 3.11 or newer is needed. Install it and run: PYTHON=python3.11 make up"
    return
  fi
  if [ -x .venv/bin/python ] && [ -x policy/.venv/bin/python ]; then return; fi
  local scratch
  scratch=$(mktemp -d)
  if ! "$python" -m venv "$scratch/venv" >/dev/null 2>&1; then
    problem "Python: $python -m venv fails (no venv/ensurepip). Debian/Ubuntu: sudo apt-get install python3-venv"
  fi
  rm -rf "$scratch"
}

check_root() {
  # The dev stack has host.become: true, so its host commands run through `sudo -n`, as root too.
  if ! command -v sudo >/dev/null 2>&1; then
    problem "sudo: not installed. The dev stack's host commands run through 'sudo -n' (host.become in
    Pulumi.dev.yaml). Debian/Ubuntu: apt-get install sudo (as root)."
  elif ! sudo -n true 2>/dev/null; then
    problem "sudo: 'sudo -n true' fails for $(id -un). The dev stack runs cryptsetup as root through 'sudo -n':
    run make up as root, or allow this user passwordless sudo (a sudoers rule)."
  fi
}

check_luks_tools() {
  local missing=() tool
  for tool in cryptsetup:cryptsetup-bin mkfs.ext4:e2fsprogs wipefs:util-linux blkid:util-linux losetup:mount; do
    on_path "${tool%%:*}" || missing+=("${tool#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    problem "LUKS tools: missing $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')(packages).
    Debian/Ubuntu: sudo apt-get install cryptsetup-bin e2fsprogs util-linux mount"
  fi
}

check_dm_crypt() {
  local modules
  modules="/lib/modules/$(uname -r)"
  if [ -d /sys/module/dm_crypt ]; then return; fi
  if [ -d "$modules" ] && PATH="$sbin_path" modprobe -n -q dm_crypt 2>/dev/null; then return; fi
  if [ -r "$modules/modules.builtin" ] && grep -q '/dm-crypt\.ko' "$modules/modules.builtin"; then return; fi
  problem "dm-crypt: this kernel ($(uname -r)) has no dm-crypt module, so LUKS volumes cannot be opened here
    (a container, or a kernel without CONFIG_DM_CRYPT). Use a Linux host or VM with dm-crypt, or deploy
    to a remote Docker host instead (host.mode: ssh, see the README's production workflow)."
}

pulumi_cli=""
check_pulumi() {
  local found version
  if ! found=$(command -v pulumi); then
    if ! command -v curl >/dev/null 2>&1; then
      problem "Pulumi CLI: not installed, and curl (for the official installer) is missing.
    Install curl (sudo apt-get install curl), or build the CLI offline with make engine."
    else
      note "Pulumi CLI: not found; make up installs $pinned into ~/.pulumi/bin: $installer --no-edit-path"
    fi
    return
  fi
  version=$(pulumi version 2>/dev/null || true)
  if [ "$version" != "v$pinned" ]; then
    problem "Pulumi CLI: $found is ${version:-unknown}, but the SDK is pinned to $pinned (requirements.txt).
    Install that version: $installer
    and put ~/.pulumi/bin first on PATH (or remove the other CLI)."
    return
  fi
  pulumi_cli=$found
}

# shellcheck source=scripts/pulumi-env.sh
source scripts/pulumi-env.sh
check_docker
check_python
check_root
check_luks_tools
check_dm_crypt
check_pulumi
for n in "${notes[@]}"; do say "$n"; done
if [ "${#problems[@]}" -gt 0 ]; then
  printf 'make up cannot deploy the dev stack on this machine yet (%d to fix):\n' "${#problems[@]}" >&2
  for p in "${problems[@]}"; do printf '  - %s\n' "$p" >&2; done
  exit 1
fi
if [ "${1:-}" = "--check" ]; then
  say "every prerequisite is met${pulumi_cli:+ (Pulumi CLI $pulumi_cli)}"
  exit 0
fi

if [ "${YES:-0}" != "1" ] && ! [ -t 0 ]; then
  printf 'error: pulumi up asks before it deploys, and this shell has no terminal: run YES=1 make up\n' >&2
  exit 1
fi
if [ -z "$pulumi_cli" ]; then
  say "installing the Pulumi CLI $pinned (official installer, into ~/.pulumi/bin)"
  curl -fsSL https://get.pulumi.com | sh -s -- --version "$pinned" --no-edit-path
  pulumi_env
  [ "$(pulumi version)" = "v$pinned" ] || { printf 'error: the installed CLI is not %s\n' "$pinned" >&2; exit 1; }
fi

say "python virtualenvs (.venv for the program, policy/.venv for the policy pack)"
PYTHON="$python" ./scripts/python-deps.sh program
PYTHON="$python" ./scripts/python-deps.sh policy

mkdir -p .state
chmod 0700 .state
if [ ! -s .state/passphrase ]; then
  (umask 077 && head -c 32 /dev/urandom | base64 >.state/passphrase)
  say "generated the secrets passphrase in .state/passphrase (keep it: it decrypts the dev stack's secrets)"
fi

pulumi stack select dev --create --secrets-provider passphrase --non-interactive
# Pulumi.yaml declares the secret keys without a default (a default would be a plain value), so
# every stack sets them; the dev stack uses neither (no SSH host, dev certificates).
for key in $(.venv/bin/python -c 'from components.settings import SECRET_KEYS; print(*SECRET_KEYS)'); do
  if ! pulumi config get --stack dev "$key" >/dev/null 2>&1; then
    pulumi config set --stack dev --secret "$key" ""
  fi
done

args=(--stack dev --policy-pack policy --policy-pack-config policy/config/dev.json)
if [ "${YES:-0}" = "1" ]; then
  say "pulumi up (dev): the preview, then the deployment without a question (YES=1)"
  args+=(--yes)
else
  say "pulumi up (dev): the preview, then a question before anything changes"
fi
pulumi up "${args[@]}"
