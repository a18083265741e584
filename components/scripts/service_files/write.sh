# shellcheck shell=bash
# Reads '<file name> <base64 content>' lines on stdin and writes each file atomically (owner-only
# for secrets, world-readable for the public CA bundle); removes files no longer listed.
main() {
  ep_require_root
  local dir="$EP_FILES_DIR" name data keep=" " path base
  mkdir -p "$dir"
  chmod 0711 "$dir"
  while IFS=' ' read -r name data; do
    ep_valid_name "$name" || ep_fail "invalid file name on stdin"
    printf '%s' "$data" | base64 -d >"$dir/.$name.new" || ep_fail "invalid content for $name"
    if [ "$name" = "$EP_CA_FILE" ]; then
      if [ "$EP_INCLUDE_HOST_ROOTS" = yes ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
        cat /etc/ssl/certs/ca-certificates.crt "$dir/.$name.new" >"$dir/.$name.all"
        mv -f "$dir/.$name.all" "$dir/.$name.new"
      fi
      chmod 0444 "$dir/.$name.new"
    else
      chmod 0400 "$dir/.$name.new"
    fi
    chown "$EP_FILES_OWNER" "$dir/.$name.new"
    mv -f "$dir/.$name.new" "$dir/$name"
    keep="$keep$name "
  done
  for path in "$dir"/* "$dir"/.*.new; do
    [ -e "$path" ] || continue
    base=${path##*/}
    case "$keep" in
      *" $base "*) ;;
      *) rm -f -- "$path" ;;
    esac
  done
  chown "$EP_FILES_OWNER" "$dir"
  # Others may open the CA bundle by name (0444) but not list the directory or read secrets.
  chmod 0511 "$dir"
  echo "service files ready in $dir"
}

main "$@"
