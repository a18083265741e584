#!/usr/bin/env bash
# `make preview|output|destroy|show [STACK=dev]`: the Pulumi CLI as `make up` runs it.
#   preview   pulumi preview --diff with the policy pack and the stack's pack config
#   output    pulumi stack output (secrets stay hidden: add --show-secrets yourself)
#   destroy   pulumi destroy (asks first; what it leaves on the host: see the README)
#   show      what the stack deploys, from its settings: services, images, networks, volumes,
#             routes, certificates (scripts/show_stack.py; no engine, no state)
# The dev stack lives in the local file backend (.state/, scripts/pulumi-env.sh); any other
# stack is on the backend you logged in to (pulumi login), with your secrets provider settings.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { printf 'usage: %s preview|output|destroy|show STACK\n' "$0" >&2; exit 2; }
[ "$#" -eq 2 ] || usage
action=$1
stack=$2
case "$stack" in
  '' | *[!A-Za-z0-9_.-]*) printf 'error: STACK=%q is not a stack name\n' "$stack" >&2; exit 2 ;;
esac

if [ "$stack" = dev ]; then
  # shellcheck source=scripts/pulumi-env.sh
  source scripts/pulumi-env.sh local
else
  # shellcheck source=scripts/pulumi-env.sh
  source scripts/pulumi-env.sh cli
fi

need_cli() {
  command -v pulumi >/dev/null 2>&1 && return
  printf 'error: no Pulumi CLI on PATH or in ~/.pulumi/bin: run make up (dev) or install it (README)\n' >&2
  exit 1
}

case "$action" in
  preview)
    need_cli
    exec pulumi preview --stack "$stack" --diff --policy-pack policy \
      --policy-pack-config "policy/config/$stack.json"
    ;;
  output)
    need_cli
    exec pulumi stack output --stack "$stack"
    ;;
  destroy)
    need_cli
    exec pulumi destroy --stack "$stack"
    ;;
  show)
    [ -x .venv/bin/python ] || ./scripts/python-deps.sh program
    exec .venv/bin/python -m scripts.show_stack "$stack"
    ;;
  *) usage ;;
esac
