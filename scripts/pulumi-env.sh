# shellcheck shell=bash
# The Pulumi CLI environment of the local dev stack, defined in this one place and used by
# scripts/up-dev.sh, scripts/stack.sh (`make preview|output|destroy|show`) and your shell:
#   source scripts/pulumi-env.sh        (bash; or: eval "$(make -s env)" in any POSIX shell)
# It sets, each only when you have not set it yourself:
#   PULUMI_BACKEND_URL             file://<repo>/.state (local state, no Pulumi account)
#   PULUMI_CONFIG_PASSPHRASE_FILE  <repo>/.state/passphrase (made by `make up`, mode 0600)
#   PULUMI_SKIP_UPDATE_CHECK       true (the CLI version is pinned: requirements.txt)
# (`source scripts/pulumi-env.sh cli` sets only the two below: for stacks on your own backend)
# and puts the Pulumi CLI on PATH: the engine `make engine` built (its env file, see the README's
# air-gapped install) when there is one, else the official installer's ~/.pulumi/bin.

pulumi_env_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

pulumi_env_engine_file() {
  local script="$pulumi_env_repo/scripts/build-engine.sh" file
  [ -x "$script" ] || return 1
  file=$("$script" --print-env-file 2>/dev/null) || return 1
  [ -n "$file" ] && [ -f "$file" ] || return 1
  printf '%s\n' "$file"
}

pulumi_env() {
  local engine_env
  pulumi_env_engine=""
  pulumi_env_bin=""
  if [ "${1:-local}" = local ]; then
    export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$pulumi_env_repo/.state}"
    if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
      export PULUMI_CONFIG_PASSPHRASE_FILE="$pulumi_env_repo/.state/passphrase"
    fi
  fi
  export PULUMI_SKIP_UPDATE_CHECK="${PULUMI_SKIP_UPDATE_CHECK:-true}"
  if engine_env=$(pulumi_env_engine_file); then
    # shellcheck source=/dev/null
    source "$engine_env"
    pulumi_env_engine=$engine_env
  elif [ -x "$HOME/.pulumi/bin/pulumi" ]; then
    case ":$PATH:" in
      *":$HOME/.pulumi/bin:"*) ;;
      *) export PATH="$HOME/.pulumi/bin:$PATH" ;;
    esac
    pulumi_env_bin="$HOME/.pulumi/bin"
  fi
}

pulumi_env_print() {
  local name
  for name in PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE_FILE PULUMI_SKIP_UPDATE_CHECK; do
    if [ -n "${!name:-}" ]; then printf 'export %s=%q\n' "$name" "${!name}"; fi
  done
  # shellcheck disable=SC2016 # $PATH is expanded by the shell that evaluates this line
  if [ -n "$pulumi_env_bin" ]; then printf 'export PATH=%q:"$PATH"\n' "$pulumi_env_bin"; fi
  if [ -n "$pulumi_env_engine" ]; then printf '. %q\n' "$pulumi_env_engine"; fi
}

pulumi_env "$@"
