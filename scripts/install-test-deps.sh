#!/usr/bin/env bash
# `make test-deps`: installs the Debian packages the test tiers need (.ci/apt-packages) on a
# Debian 12 machine. Only packages that are missing are installed; apt-get update runs once,
# only then. Python packages are not installed here (`make deps` does that).
#
# It never changes the machine beyond what was asked for:
#   - the kernel package (group "vm") only with VM=1: the qemu tiers boot it, and installing a
#     kernel on a workstation also rebuilds its initramfs and boot loader entries;
#   - nothing is ever removed or replaced: with Docker CE or moby installed, Debian's docker.io
#     (group "docker") is refused, and so is any install that apt would resolve by removing a
#     package;
#   - services of the installed packages (sshd, udevd, dockerd) are kept from starting: a
#     policy-rc.d and /etc/ssh/sshd_not_to_be_run are added for the install and removed after it
#     (each only if this script added it), so the next boot behaves as before.
# Exits non-zero when something was refused or could not be installed, after installing the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

VM="${VM:-0}"
PACKAGE_LIST=.ci/apt-packages
POLICY_RC=/usr/sbin/policy-rc.d
SSHD_MARKER=/etc/ssh/sshd_not_to_be_run
# Packages of Docker's own repositories (and moby's) that Debian's docker.io would replace.
FOREIGN_DOCKER=(docker-ce docker-ce-cli docker-ee moby-engine moby-cli containerd.io)

say() { printf '==> %s\n' "$*"; }
refuse() { printf 'refused: %s\n' "$*" >&2; refused=yes; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  printf 'error: make test-deps installs Debian packages with apt-get; this machine has no apt.\n' >&2
  printf 'Install the equivalents of the packages in %s by hand, or run the tests in a Debian 12\n' "$PACKAGE_LIST" >&2
  printf 'container or VM. make test runs whatever tiers this machine can run without them.\n' >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { printf 'error: installing packages needs root: run as root or install sudo\n' >&2; exit 1; }
  sudo=(sudo)
fi

refused=""
wanted=()
docker_group=()
while read -r package group; do
  case "$package" in '' | '#'*) continue ;; esac
  case "${group:-}" in
    "") wanted+=("$package") ;;
    vm) if [ "$VM" = "1" ]; then wanted+=("$package"); fi ;;
    docker) docker_group+=("$package") ;;
    program=*) if ! command -v "${group#program=}" >/dev/null 2>&1; then wanted+=("$package"); fi ;;
    *) printf 'error: %s: unknown group %q for %s\n' "$PACKAGE_LIST" "$group" "$package" >&2; exit 1 ;;
  esac
done <"$PACKAGE_LIST"

foreign=()
for package in "${FOREIGN_DOCKER[@]}"; do
  if installed "$package"; then foreign+=("$package"); fi
done
missing_docker=()
for package in "${docker_group[@]}"; do
  if ! installed "$package"; then missing_docker+=("$package"); fi
done
if [ "${#missing_docker[@]}" -gt 0 ] && [ "${#foreign[@]}" -gt 0 ]; then
  refuse "${foreign[*]} installed: not installing ${missing_docker[*]}, which would replace it.
  The docker tier can use that engine's dockerd; the e2e tier and the VM's Docker guest copy
  Debian's docker.io programs and are skipped without it. To run them, use a Debian 12 machine,
  container or VM without Docker CE (as CI does)."
else
  wanted+=("${docker_group[@]}")
fi

missing=()
for package in "${wanted[@]}"; do
  if ! installed "$package"; then missing+=("$package"); fi
done
if [ "$VM" != "1" ] && ! installed linux-image-amd64; then
  say "not installing the kernel the VM tiers boot (vm, e2e are skipped): make test-deps VM=1 installs it"
fi

if [ "${#missing[@]}" -eq 0 ]; then
  say "every Debian package the tests need is installed"
else
  added=()
  cleanup() {
    local path
    for path in "${added[@]}"; do "${sudo[@]}" rm -f "$path"; done
  }
  trap 'cleanup' EXIT
  "${sudo[@]}" apt-get update -qq
  # apt would resolve a conflict by removing the other package: refuse instead.
  removals=$(apt-get install -s --no-install-recommends "${missing[@]}" | sed -n 's/^Remv \([^ ]*\).*/\1/p')
  if [ -n "$removals" ]; then
    refuse "installing ${missing[*]} would remove ${removals//$'\n'/ }; nothing was installed.
  Install the packages you can by hand (apt-get install --no-install-recommends PACKAGE)."
    exit 1
  fi
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\n# added by encrypted-platform scripts/install-test-deps.sh for one install\nexit 101\n' |
      "${sudo[@]}" tee "$POLICY_RC" >/dev/null
    "${sudo[@]}" chmod 0755 "$POLICY_RC"
    added+=("$POLICY_RC")
  fi
  if [ ! -e "$SSHD_MARKER" ]; then
    "${sudo[@]}" mkdir -p "$(dirname "$SSHD_MARKER")"
    "${sudo[@]}" touch "$SSHD_MARKER"
    added+=("$SSHD_MARKER")
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -n "$refused" ]; then exit 1; fi
