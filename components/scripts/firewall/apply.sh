# shellcheck shell=bash
# create/update of HostFirewall: converge the rules now, and install this very program as
# /usr/local/sbin/encrypted-platform-firewall so the rules come back at boot (systemd unit before
# docker.service; hosts without systemd call it from their init before dockerd).

# This program's own text: bash keeps the -c argument in BASH_EXECUTION_STRING.
fw_program_text() {
  if [ -n "${BASH_EXECUTION_STRING:-}" ]; then printf '%s\n' "$BASH_EXECUTION_STRING"; else cat "$0"; fi
}

fw_install_boot() {
  local self=/usr/local/sbin/encrypted-platform-firewall tmp changed=""
  mkdir -p /usr/local/sbin
  tmp=$(mktemp "$self.XXXXXX")
  fw_program_text >"$tmp"
  chmod 0755 "$tmp"
  if [ -f "$self" ] && cmp -s "$tmp" "$self"; then rm -f "$tmp"; else mv -f "$tmp" "$self"; changed=yes; fi
  if [ -d /run/systemd/system ]; then
    local unit=/etc/systemd/system/encrypted-platform-firewall.service
    tmp=$(mktemp "$unit.XXXXXX")
    cat >"$tmp" <<'UNIT'
[Unit]
Description=encrypted-platform host firewall (containers may not reach the host's own services)
After=network-pre.target
Before=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/encrypted-platform-firewall --boot

[Install]
WantedBy=multi-user.target
UNIT
    chmod 0644 "$tmp"
    if [ -f "$unit" ] && cmp -s "$tmp" "$unit"; then rm -f "$tmp"; else mv -f "$tmp" "$unit"; changed=yes; fi
    if [ -n "$changed" ]; then
      systemctl daemon-reload
      systemctl enable encrypted-platform-firewall.service >/dev/null 2>&1
    fi
  fi
  if [ -n "$changed" ]; then ep_log "installed the boot-time firewall"; fi
}

fw_main() {
  ep_require_root
  local family changes="" applied=""
  for family in 4 6; do
    if fw_family_available "$family"; then
      changes+=$(fw_apply_family "$family")
      applied+="$family "
    elif [ "$family" = 4 ]; then
      ep_die "iptables is not usable on this host"
    fi
  done
  if [ "${1:-}" != "--boot" ]; then fw_install_boot; fi
  printf '{"firewall":"%s","families":"%s","changed":%s}\n' "$FW_CHAIN" "${applied% }" "$([ -n "$changes" ] && echo true || echo false)"
}

fw_main "$@"
