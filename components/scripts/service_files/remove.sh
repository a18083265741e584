# shellcheck shell=bash
# Removes a service's files when the service goes away.
main() {
  if [ -d "$EP_FILES_DIR" ]; then
    rm -rf -- "$EP_FILES_DIR"
  fi
  echo "service files removed from $EP_FILES_DIR"
}

main "$@"
