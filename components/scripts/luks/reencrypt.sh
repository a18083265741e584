# shellcheck shell=bash
# Full re-encryption with a new volume key (LUKS2 online reencrypt). Unlike a key-slot rotation,
# this revokes anyone who kept an old header backup and an old passphrase. Cost: O(volume size).
# An interrupted run is resumed by the next one (cryptsetup keeps progress in the header).

ep_reencrypt() {
  ep_pbkdf_args
  ep_mapping_active || ep_die "the volume must be open for online re-encryption"
  if cryptsetup luksDump "$EP_SOURCE" | grep -q 'online-reencrypt'; then
    ep_log "resuming an interrupted re-encryption"
    ep_with_key "$EP_KEY" cryptsetup reencrypt --resume-only --batch-mode --key-file=- \
      --active-name "$EP_MAPPER"
  else
    ep_log "re-encrypting $EP_SOURCE with a new volume key (this takes time proportional to its size)"
    ep_with_key "$EP_KEY" cryptsetup reencrypt --batch-mode --key-file=- "${EP_PBKDF_ARGS[@]}" \
      --active-name "$EP_MAPPER"
  fi
  ep_did reencrypted
}
