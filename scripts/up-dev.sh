#!/usr/bin/env bash
# `make up`: set up everything the local dev stack needs on a fresh Linux machine with Docker,
# then deploy it with `pulumi up`. Safe to re-run.
#   - Python virtualenv with the pinned dependencies (requirements.txt);
#   - the Pulumi CLI through its official installer when it is absent;
#   - a local file state backend (.state/) and the passphrase secrets provider (a random
#     passphrase in .state/passphrase, mode 0600): no Pulumi account needed;
#   - the `dev` stack, then `pulumi up` with the project's policy pack enforced.
# Set YES=1 to skip the confirmation prompt of `pulumi up`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || fail "Docker is required (https://docs.docker.com/engine/install/)"
docker info >/dev/null 2>&1 || fail "the Docker engine is not reachable: start it, or add your user to the docker group"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
  sudo -n true 2>/dev/null || fail "the dev stack runs cryptsetup as root through 'sudo -n': allow passwordless sudo for this user, or run as root"
fi

# Host tools the LUKS programs call (Debian/Ubuntu package names).
missing=()
for tool in cryptsetup:cryptsetup-bin mkfs.ext4:e2fsprogs wipefs:util-linux blkid:util-linux; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || PATH="$PATH:/sbin:/usr/sbin" command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || fail "install these packages first: ${missing[*]}"
  say "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

say "python virtualenvs (.venv for the program, policy/.venv for the policy pack)"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
[ -x policy/.venv/bin/python ] || python3 -m venv policy/.venv
policy/.venv/bin/pip install -q --disable-pip-version-check -r policy/requirements.txt

if ! command -v pulumi >/dev/null 2>&1; then
  if [ ! -x "$HOME/.pulumi/bin/pulumi" ]; then
    say "installing the Pulumi CLI (official installer)"
    curl -fsSL https://get.pulumi.com | sh
  fi
  export PATH="$HOME/.pulumi/bin:$PATH"
fi

mkdir -p .state
chmod 0700 .state
if [ ! -s .state/passphrase ]; then
  ( umask 077 && head -c 32 /dev/urandom | base64 > .state/passphrase )
  say "generated the secrets passphrase in .state/passphrase (keep it: it decrypts the dev stack's secrets)"
fi
export PULUMI_BACKEND_URL="file://$repo/.state"
export PULUMI_CONFIG_PASSPHRASE_FILE="$repo/.state/passphrase"

pulumi stack select dev --create --secrets-provider passphrase --non-interactive

say "pulumi up (dev)"
args=(--stack dev --policy-pack policy --policy-pack-config policy/config/dev.json)
if [ "${YES:-0}" = "1" ]; then args+=(--yes --skip-preview); fi
pulumi up "${args[@]}"
