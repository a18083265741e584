# shellcheck shell=bash
# Host firewall for the Docker host. Docker filters FORWARD (container to container, container to
# outside) but leaves the host's INPUT chain open: a container, even on an `internal` network,
# reaches the host's own services (sshd, a Docker API on TCP, databases on the host) through its
# bridge gateway address. These rules close that: packets entering the host from a Docker bridge
# are rejected unless they answer a connection the host opened (docker-proxy, health probes) or
# go to an explicitly allowed port.

# Messages (common.sh) name the firewall.
ep_log_tag() { printf 'encrypted-platform-firewall'; }

# The rules of our chain, in `iptables -S` form, for one address family.
fw_desired_rules() {
  local family=$1 port reject
  if [ "$family" = 6 ]; then reject="icmp6-adm-prohibited"; else reject="icmp-admin-prohibited"; fi
  printf -- '-N %s\n' "$FW_CHAIN"
  printf -- '-A %s -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n' "$FW_CHAIN"
  for port in $FW_ALLOW_TCP_PORTS; do
    printf -- '-A %s -p tcp -m tcp --dport %s -j RETURN\n' "$FW_CHAIN" "$port"
  done
  printf -- '-A %s -p tcp -j REJECT --reject-with tcp-reset\n' "$FW_CHAIN"
  printf -- '-A %s -j REJECT --reject-with %s\n' "$FW_CHAIN" "$reject"
}

fw_tool() { if [ "$1" = 6 ]; then printf 'ip6tables'; else printf 'iptables'; fi; }

fw_family_available() {
  local tool
  tool=$(fw_tool "$1")
  command -v "$tool" >/dev/null 2>&1 && "$tool" -w -S INPUT >/dev/null 2>&1
}

# Converge one family: the chain holds exactly the desired rules, and INPUT jumps to it first for
# every Docker bridge interface. Looks before acting; prints "changed" when it changed anything.
fw_apply_family() {
  local family=$1 tool desired current rule iface changed=""
  tool=$(fw_tool "$family")
  desired=$(fw_desired_rules "$family")
  current=$("$tool" -w -S "$FW_CHAIN" 2>/dev/null || true)
  if [ "$current" != "$desired" ]; then
    if [ -z "$current" ]; then "$tool" -w -N "$FW_CHAIN"; else "$tool" -w -F "$FW_CHAIN"; fi
    while IFS= read -r rule; do
      case "$rule" in -N*) continue ;; esac
      # shellcheck disable=SC2086  # a rule is a list of words
      "$tool" -w $rule
    done <<<"$desired"
    changed=yes
  fi
  for iface in $FW_INTERFACES; do
    if ! "$tool" -w -C INPUT -i "$iface" -j "$FW_CHAIN" 2>/dev/null; then
      "$tool" -w -I INPUT 1 -i "$iface" -j "$FW_CHAIN"
      changed=yes
    fi
  done
  if [ -n "$changed" ]; then printf 'changed\n'; fi
}

fw_remove_family() {
  local family=$1 tool rule
  tool=$(fw_tool "$family")
  # Remove every jump to our chain, whatever interface it was for.
  while IFS= read -r rule; do
    # shellcheck disable=SC2086
    "$tool" -w ${rule/-A INPUT/-D INPUT}
  done < <("$tool" -w -S INPUT | grep -- "-j $FW_CHAIN\$" || true)
  if "$tool" -w -S "$FW_CHAIN" >/dev/null 2>&1; then
    "$tool" -w -F "$FW_CHAIN"
    "$tool" -w -X "$FW_CHAIN"
    printf 'changed\n'
  fi
}
