# shellcheck shell=bash
# Unlock at boot without a key on the host ("tang" and "tpm2" modes): a key slot bound with clevis
# as EP_CLEVIS_CONFIG says (an sss configuration rendered from the settings: the Tang servers with
# their pinned thumbprints, or the TPM policy). clevis adds the slot with a random key of its own
# and keeps it only as a JWE in a LUKS2 token; the host can recover that key only while the Tang
# servers answer (tang) or on this machine's TPM (tpm2), so no key exists on the host's disks.
#
# Which slots this program bound is kept in the header itself, in a token of ours that holds no
# key ("binding record": the binding's hash, the slot bound for it, every slot it may have bound).
# Only those slots are ever unbound: a clevis slot the operator bound by hand (TPM2, another Tang)
# is left alone. The hash covers the configuration and the key version, so a changed server list,
# a new thumbprint or a rotated passphrase binds a new slot (and unbinds the old one after the new
# one is proven to open the volume).

EP_BINDING_TOKEN=encrypted-platform-binding

ep_binding_want() { printf '%s\n%s\n' "$EP_CLEVIS_CONFIG" "$EP_KEY_VERSION" | sha256sum | cut -d' ' -f1; }

# Numbers of the active key slots, one per line.
ep_keyslots() {
  cryptsetup luksDump -- "$EP_SOURCE" |
    awk '/^Keyslots:$/ {s = 1; next} /^[^[:space:]]/ {s = 0} s && /^  [0-9]+: / {sub(":", "", $1); print $1}'
}

# "id type" of every token, one per line.
ep_tokens() {
  cryptsetup luksDump -- "$EP_SOURCE" |
    awk '/^Tokens:$/ {s = 1; next} /^[^[:space:]]/ {s = 0} s && /^  [0-9]+: / {sub(":", "", $1); print $1, $2}'
}

# The key slots clevis is bound to, one per line.
ep_clevis_slots() {
  { clevis luks list -d "$EP_SOURCE" 2>/dev/null || true; } | sed -n 's/^\([0-9]\{1,2\}\): .*/\1/p'
}

ep_word_in() {
  local word=$1 item
  shift
  for item in "$@"; do [ "$item" = "$word" ] && return 0; done
  return 1
}

ep_free_keyslot() {
  local slot used
  used=$(ep_keyslots | tr '\n' ' ')
  for slot in $(seq 0 31); do
    # shellcheck disable=SC2086 # a list of slot numbers
    ep_word_in "$slot" $used || { printf '%s' "$slot"; return 0; }
  done
  ep_die "no free key slot on $EP_SOURCE"
}

# One field of a record token's JSON (written by ep_binding_write: digits, hex and spaces only).
ep_json_field() { printf '%s' "$1" | sed -n "s/.*\"$2\":\"\\([0-9a-f ]*\\)\".*/\\1/p"; }

# "generation binding current owned..." of the newest binding record, nothing when there is none.
ep_binding_record() {
  local id type json generation binding current best=-1 line=""
  while read -r id type; do
    [ "$type" = "$EP_BINDING_TOKEN" ] || continue
    json=$(cryptsetup token export --token-id "$id" -- "$EP_SOURCE") || continue
    generation=$(ep_json_field "$json" generation)
    case "$generation" in "" | *[!0-9]*) continue ;; esac
    if [ "$generation" -gt "$best" ]; then
      best=$generation
      binding=$(ep_json_field "$json" binding)
      current=$(ep_json_field "$json" current)
      # "-" for an empty field, so the words keep their places
      line="$generation ${binding:--} ${current:--} $(ep_json_field "$json" owned)"
    fi
  done < <(ep_tokens)
  printf '%s' "$line"
}

# Writes a new record, then removes the older ones (a cut-off run leaves two; the newest counts).
ep_binding_write() {
  local generation=$1 binding=$2 current=$3 owned=$4 id before
  before=$(ep_tokens | awk -v t="$EP_BINDING_TOKEN" '$2 == t {print $1}' | tr '\n' ' ')
  printf '{"type":"%s","keyslots":[],"generation":"%s","binding":"%s","current":"%s","owned":"%s"}' \
    "$EP_BINDING_TOKEN" "$generation" "$binding" "$current" "$owned" |
    cryptsetup token import --json-file=- -- "$EP_SOURCE"
  for id in $before; do cryptsetup token remove --token-id "$id" -- "$EP_SOURCE"; done
}

# clevis tokens whose key slot is gone (a re-encryption drops every slot but the passphrase's).
ep_remove_orphan_clevis_tokens() {
  local id type json
  while read -r id type; do
    [ "$type" = clevis ] || continue
    json=$(cryptsetup token export --token-id "$id" -- "$EP_SOURCE") || continue
    case "$json" in *'"keyslots":[]'*) cryptsetup token remove --token-id "$id" -- "$EP_SOURCE" ;; esac
  done < <(ep_tokens)
}

# The slot's key, as clevis recovers it (through Tang, or the TPM), opens the volume (the key goes from one
# pipe to the next, never to a file or argv).
ep_clevis_slot_opens() {
  clevis luks pass -d "$EP_SOURCE" -s "$1" |
    cryptsetup open --test-passphrase --type luks2 --key-slot "$1" --key-file=- -- "$EP_SOURCE" >/dev/null 2>&1
}

ep_unbind_owned() {
  local keep=$1 owned=$2 slot bound done=""
  bound=$(ep_clevis_slots | tr '\n' ' ')
  for slot in $owned; do
    [ "$slot" = "$keep" ] && continue
    # shellcheck disable=SC2086 # a list of slot numbers
    ep_word_in "$slot" $done && continue
    done="$done $slot"
    # shellcheck disable=SC2086 # a list of slot numbers
    if ep_word_in "$slot" $bound; then
      ep_log "unbinding key slot $slot (an earlier clevis binding)"
      clevis luks unbind -f -d "$EP_SOURCE" -s "$slot"
      ep_did clevis-unbound
    fi
  done
}

# What clevis needs for the mode's pin, and how a failed bind is explained.
ep_clevis_tools() {
  ep_require_tools clevis clevis-luks-bind clevis-luks-pass clevis-luks-unbind jose sha256sum seq
  case "$EP_UNLOCK_AT_BOOT" in
    tang) ep_require_tools clevis-encrypt-tang curl ;;
    tpm2) ep_require_tools clevis-encrypt-tpm2 tpm2_createprimary ;;
  esac
}

ep_clevis_bind_failed() {
  case "$EP_UNLOCK_AT_BOOT" in
    tang) ep_die "clevis could not bind $EP_SOURCE to the Tang servers (unreachable, or a thumbprint in encryption.tang.servers is not the server's signing key)" ;;
    *) ep_die "clevis could not seal a key slot of $EP_SOURCE to this host's TPM (no /dev/tpmrm0, or encryption.tpm2 names a PCR bank the TPM does not have)" ;;
  esac
}

ep_clevis_converge() {
  ep_clevis_tools
  local want record generation=0 binding="" current="" owned="" bound slot needs_bind=yes
  want=$(ep_binding_want)
  ep_remove_orphan_clevis_tokens
  record=$(ep_binding_record)
  if [ -n "$record" ]; then read -r generation binding current owned <<<"$record"; fi
  bound=$(ep_clevis_slots | tr '\n' ' ')
  # shellcheck disable=SC2086 # a list of slot numbers
  if [ "$binding" = "$want" ] && [ -n "$current" ] && ep_word_in "$current" $bound; then
    needs_bind=""
    if ! ep_clevis_slot_opens "$current"; then
      if [ "$EP_UNLOCK_AT_BOOT" = tang ]; then
        # A Tang server that does not answer now may answer at the next boot; binding anew
        # needs it too. The slot stays, and this run (which has the passphrase) goes on.
        ep_log "key slot $current is bound, but the Tang servers did not answer now; kept"
      else
        # The sealed key does not open on this TPM (another mainboard, a cleared TPM, PCRs
        # changed by a firmware update): the slot is sealed anew to this host's TPM.
        ep_log "key slot $current does not open with this host's TPM; sealing a new one"
        needs_bind=yes
      fi
    fi
  fi
  if [ -n "$needs_bind" ]; then
    slot=$(ep_free_keyslot)
    # shellcheck disable=SC2086 # a list of slot numbers
    ep_word_in "$slot" $owned || owned="${owned:+$owned }$slot"
    generation=$((generation + 1))
    # Recorded before the bind, so a run cut off in between still knows the slot is its own.
    ep_binding_write "$generation" "$want" "$slot" "$owned"
    ep_log "binding key slot $slot with clevis ($EP_UNLOCK_AT_BOOT)"
    if ! ep_with_key "$EP_KEY" clevis luks bind -y -s "$slot" -k - -d "$EP_SOURCE" sss "$EP_CLEVIS_CONFIG"; then
      # The binding that worked stays the one on record (a later run with good settings keeps it).
      ep_binding_write "$((generation + 1))" "$binding" "$current" "$owned"
      ep_clevis_bind_failed
    fi
    ep_clevis_slot_opens "$slot" || ep_die "the clevis-bound key slot $slot does not open $EP_SOURCE"
    ep_did clevis-bound
    current=$slot
  fi
  ep_unbind_owned "$current" "$owned"
  if [ "$owned" != "$current" ]; then ep_binding_write "$((generation + 1))" "$want" "$current" "$current"; fi
}

# Another mode: the slots this program bound go, and its record with them.
ep_clevis_remove() {
  local record generation binding current owned id type
  ep_is_luks || return 0
  record=$(ep_binding_record)
  [ -n "$record" ] || return 0
  ep_require_tools clevis clevis-luks-unbind
  read -r generation binding current owned <<<"$record"
  : "$generation" "$binding"
  ep_unbind_owned "" "$current $owned"
  while read -r id type; do
    if [ "$type" = "$EP_BINDING_TOKEN" ]; then cryptsetup token remove --token-id "$id" -- "$EP_SOURCE"; fi
  done < <(ep_tokens)
  ep_log "removed the clevis binding"
}
