# shellcheck shell=bash
# Swarm node preflight: runs on each node before the program creates anything there. It verifies
# what the settings promised: the engine version (CVE-2023-28840 for encrypted overlays), that the
# node is an active swarm member with the declared role and hostname, and that the daemon applies
# no-new-privileges to every container (Swarm services cannot set it per service).

sw_log() { printf 'encrypted-platform[swarm-preflight %s]: %s\n' "$EP_NODE" "$*" >&2; }
sw_die() { sw_log "ERROR: $*"; exit 1; }

sw_docker() { docker -H "$EP_DOCKER_HOST" "$@"; }

# 20.10.24+dfsg1 -> 20 10 24
sw_version_triple() {
  local v=${1%%[-+~]*}
  printf '%s %s %s\n' "$(echo "$v" | cut -d. -f1)" "$(echo "$v" | cut -d. -f2)" "$(echo "$v" | cut -d. -f3)"
}

# true when version $1 >= version $2
sw_version_at_least() {
  local a b
  read -r -a a <<<"$(sw_version_triple "$1")"
  read -r -a b <<<"$(sw_version_triple "$2")"
  local i
  for i in 0 1 2; do
    if [ "${a[$i]:-0}" -gt "${b[$i]:-0}" ]; then return 0; fi
    if [ "${a[$i]:-0}" -lt "${b[$i]:-0}" ]; then return 1; fi
  done
  return 0
}

sw_main() {
  command -v docker >/dev/null || sw_die "the docker CLI is not installed on this node"
  local version state control name
  version=$(sw_docker version --format '{{.Server.Version}}') || sw_die "cannot reach the engine at $EP_DOCKER_HOST"
  if [ "$EP_ENCRYPTED" = yes ]; then
    sw_version_at_least "$version" "$EP_MIN_VERSION" \
      || sw_die "engine $version is older than $EP_MIN_VERSION: encrypted overlays silently stay unencrypted (CVE-2023-28840)"
    if sw_version_at_least "$version" 23.0.0 && ! sw_version_at_least "$version" 23.0.4; then
      sw_die "engine $version is affected by CVE-2023-28840 (fixed in 23.0.4)"
    fi
  fi
  if [ "${version%%[-+~]*}" != "${EP_DECLARED_VERSION%%[-+~]*}" ]; then
    sw_log "engine is $version, settings declare $EP_DECLARED_VERSION: update swarm.nodes.$EP_NODE.engineVersion"
  fi
  state=$(sw_docker info --format '{{.Swarm.LocalNodeState}}')
  [ "$state" = active ] || sw_die "node is not an active swarm member (state '$state'); see docs/swarm.md"
  control=$(sw_docker info --format '{{.Swarm.ControlAvailable}}')
  if [ "$EP_ROLE" = manager ] && [ "$control" != true ]; then
    sw_die "node is not a swarm manager"
  fi
  name=$(sw_docker info --format '{{.Name}}')
  [ "$name" = "$EP_HOSTNAME" ] || sw_die "node hostname is '$name', settings say '$EP_HOSTNAME' (placement constraints use it)"
  [ -r "$EP_DAEMON_CONFIG" ] || sw_die "$EP_DAEMON_CONFIG not readable: it must set \"no-new-privileges\": true"
  grep -Eq '"no-new-privileges"[[:space:]]*:[[:space:]]*true' "$EP_DAEMON_CONFIG" \
    || sw_die "$EP_DAEMON_CONFIG does not set \"no-new-privileges\": true (Swarm services cannot set it themselves)"
  printf '{"node":"%s","engine":"%s","swarm":"%s"}\n' "$EP_NODE" "$version" "$state"
}

sw_main "$@"
