# shellcheck shell=bash
# delete of HostFirewall: remove the jumps, the chain and the boot-time program.

fw_main() {
  ep_require_root
  local family
  for family in 4 6; do
    if fw_family_available "$family"; then fw_remove_family "$family" >/dev/null; fi
  done
  if [ -d /run/systemd/system ] && [ -f /etc/systemd/system/encrypted-platform-firewall.service ]; then
    systemctl disable encrypted-platform-firewall.service >/dev/null 2>&1 || true
    rm -f /etc/systemd/system/encrypted-platform-firewall.service
    systemctl daemon-reload
  fi
  rm -f /usr/local/sbin/encrypted-platform-firewall
  ep_log "removed"
}

fw_main "$@"
