# shellcheck shell=bash
# Service files: a service's secrets (and the optional CA bundle) as files in its directory on the
# secrets EncryptedVolume. The directory is bound read-only into the container at /run/secrets.

ep_fail() {
  echo "encrypted-platform service files: $*" >&2
  exit 1
}

# The secrets volume must be unlocked and mounted: its data directory is created by the LUKS
# program only inside the mounted filesystem.
ep_require_root() {
  [ -d "$EP_FILES_ROOT" ] || ep_fail "$EP_FILES_ROOT does not exist (is the secrets volume unlocked and mounted?)"
}

ep_valid_name() {
  [[ $1 =~ ^[a-z0-9][a-z0-9.-]{0,63}$ ]]
}
