# shellcheck shell=bash
# Key slots. Rotation changes who can unlock (add the new passphrase, prove it opens, remove the
# old one) without touching the volume key or the data: O(1) in the volume size.

ep_key_opens() {
  ep_with_key "$1" cryptsetup open --test-passphrase --type luks2 --key-file=- "$EP_SOURCE" >/dev/null 2>&1
}

# Converges the key slots to "the current key opens, the previous one does not". Safe to re-run
# after an interruption at any point.
# The boot keyfile (crypttab mode) is rewritten with the current key as soon as that key is
# proven to open the volume, before the old slot goes: if removing the old slot fails (or
# reports a failure after succeeding), the keyfile already holds a key that still opens, never
# the revoked one, and the next run completes the removal.
ep_current_key_proven() {
  if [ "$EP_UNLOCK_AT_BOOT" = crypttab ]; then ep_install_keyfile; fi
}

ep_converge_keys() {
  if ep_key_opens "$EP_KEY"; then
    ep_current_key_proven
    if [ -n "$EP_PREV_KEY" ] && ep_key_opens "$EP_PREV_KEY"; then
      ep_log "removing the key slot of key version $((EP_KEY_VERSION - 1)) (rotation was interrupted)"
      ep_with_key "$EP_PREV_KEY" cryptsetup luksRemoveKey --batch-mode --key-file=- "$EP_SOURCE"
      ep_did rotated
    fi
    return 0
  fi
  if [ -z "$EP_PREV_KEY" ] || ! ep_key_opens "$EP_PREV_KEY"; then
    ep_die "the key for key version $EP_KEY_VERSION does not open $EP_SOURCE, nor does the key of version $((EP_KEY_VERSION - 1)). Raise keyVersion one step at a time; to recover, restore a header backup (see README)."
  fi
  ep_pbkdf_args
  ep_log "rotating: adding the key of version $EP_KEY_VERSION"
  cryptsetup luksAddKey --batch-mode "${EP_PBKDF_ARGS[@]}" \
    --key-file <(printf '%s' "$EP_PREV_KEY") "$EP_SOURCE" <(printf '%s' "$EP_KEY")
  ep_key_opens "$EP_KEY" || ep_die "the new key was added but does not open the volume; the old key still works"
  ep_current_key_proven
  ep_log "rotating: the new key opens; removing the key of version $((EP_KEY_VERSION - 1))"
  ep_with_key "$EP_PREV_KEY" cryptsetup luksRemoveKey --batch-mode --key-file=- "$EP_SOURCE"
  if ep_key_opens "$EP_PREV_KEY"; then ep_die "the old key still opens the volume after its removal"; fi
  ep_did rotated
}
