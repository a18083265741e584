# shellcheck shell=bash
# Unlock at boot. "crypttab": a root-only keyfile, entries in /etc/crypttab and /etc/fstab
# (systemd's generators use them), and the encrypted-platform-unlock helper plus a unit that runs
# it before Docker (it also covers hosts without systemd: call the helper from your init before
# dockerd). "manual": no key on the host; after a reboot the operator runs `pulumi up`. "tang" and
# "tpm2": no key on the host; the entries carry the key field `none` and `noauto` (systemd's
# generators leave them to the helper, which opens them through clevis; `_netdev` for Tang: after
# the network is up).

ep_keyfile() { printf '%s/%s.key' "$EP_KEYS_DIR" "$EP_VOLUME"; }

ep_crypttab_source() {
  if [ "$EP_BACKING" = "file" ]; then printf '%s' "$EP_SOURCE"; else printf 'UUID=%s' "$EP_UUID"; fi
}

ep_install_unlock_helper() {
  mkdir -p /usr/local/sbin
  if [ -n "$(ep_unlock_helper_text | ep_install_file /usr/local/sbin/encrypted-platform-unlock 0755)" ]; then
    ep_log "installed /usr/local/sbin/encrypted-platform-unlock"
  fi
  [ -d /run/systemd/system ] || return 0
  local changed=""
  changed+=$(ep_install_file /etc/systemd/system/encrypted-platform-unlock.service 0644 <<'UNIT'
[Unit]
Description=Unlock and mount encrypted-platform LUKS volumes
After=local-fs.target cryptsetup.target network-online.target
Wants=network-online.target
Before=docker.service containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/encrypted-platform-unlock

[Install]
WantedBy=multi-user.target
UNIT
)
  mkdir -p /etc/systemd/system/docker.service.d
  changed+=$(ep_install_file /etc/systemd/system/docker.service.d/encrypted-platform.conf 0644 <<'UNIT'
[Unit]
Wants=encrypted-platform-unlock.service
After=encrypted-platform-unlock.service
UNIT
)
  if [ -n "$changed" ]; then
    systemctl daemon-reload
    systemctl enable encrypted-platform-unlock.service >/dev/null 2>&1
  fi
}

# The boot keyfile holds the current key. Called as soon as the current key is proven to open
# the volume (before a rotation removes the old key slot), so a failure later in the run never
# leaves a revoked key in it.
ep_install_keyfile() {
  local keyfile
  keyfile=$(ep_keyfile)
  ep_root_directory "$EP_KEYS_DIR"
  if [ -n "$(ep_with_key "$EP_KEY" ep_install_file "$keyfile" 0400)" ]; then
    ep_did keyfile
  fi
}

ep_boot_setup() {
  local crypttab_line fstab_line
  crypttab_line=$(ep_table_line "$EP_MAPPER" "$(ep_crypttab_source)" "$(ep_keyfile)" luks,nofail)
  fstab_line=$(ep_table_line "$(ep_mapper_path)" "$EP_MOUNT" "$EP_FILESYSTEM" defaults,nodev,nosuid,nofail 0 2)
  ep_install_keyfile
  ep_table_set /etc/crypttab 1 "$EP_MAPPER" "$crypttab_line"
  ep_table_set /etc/fstab 2 "$EP_MOUNT" "$fstab_line"
  ep_install_unlock_helper
}

ep_remove_keyfile() {
  local keyfile
  keyfile=$(ep_keyfile)
  [ -e "$keyfile" ] || [ -L "$keyfile" ] || return 0
  if [ -f "$keyfile" ] && [ ! -L "$keyfile" ] && command -v shred >/dev/null 2>&1; then shred -u -- "$keyfile"; else rm -f -- "$keyfile"; fi
  ep_log "removed $keyfile"
  ep_did keyfile-removed
}

# Unlock through clevis: the table entries name no key file; the helper asks clevis.
ep_boot_setup_clevis() {
  local crypttab_line fstab_line network=""
  if [ "$EP_UNLOCK_AT_BOOT" = tang ]; then network=,_netdev; fi
  crypttab_line=$(ep_table_line "$EP_MAPPER" "$(ep_crypttab_source)" none "luks,noauto,nofail$network")
  fstab_line=$(ep_table_line "$(ep_mapper_path)" "$EP_MOUNT" "$EP_FILESYSTEM" "defaults,nodev,nosuid,noauto,nofail$network" 0 2)
  ep_remove_keyfile
  ep_table_set /etc/crypttab 1 "$EP_MAPPER" "$crypttab_line"
  ep_table_set /etc/fstab 2 "$EP_MOUNT" "$fstab_line"
  ep_install_unlock_helper
}

# Manual unlock: no key stays on the host.
ep_boot_remove() {
  ep_table_set /etc/crypttab 1 "$EP_MAPPER" ""
  ep_table_set /etc/fstab 2 "$EP_MOUNT" ""
  ep_remove_keyfile
}

# On delete: the host stops unlocking the volume, but the key is kept (moved aside, root-only)
# so the data that stays on disk remains recoverable.
ep_boot_forget() {
  ep_table_set /etc/crypttab 1 "$EP_MAPPER" ""
  ep_table_set /etc/fstab 2 "$EP_MOUNT" ""
  local keyfile retired
  keyfile=$(ep_keyfile)
  if [ -e "$keyfile" ]; then
    ep_root_directory "$EP_KEYS_DIR/retired"
    retired="$EP_KEYS_DIR/retired/$EP_VOLUME-$(date -u +%Y%m%dT%H%M%SZ).key"
    mv -- "$keyfile" "$retired"
    ep_log "keyfile kept as $retired (the data stays on $EP_SOURCE)"
  fi
}
