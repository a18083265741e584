# shellcheck shell=bash
# Facts about the Docker daemon that decide container inputs, gathered before any container is
# created. SwapLimit: whether the kernel lets the daemon limit swap (cgroup swap accounting). The
# daemon stores MemorySwap -1 where it cannot, and the docker provider reads that back, so the
# program must ask for what the daemon will store or see a change on every run.

swap_limit=$(docker --host "$EP_DOCKER_HOST" info --format '{{json .SwapLimit}}')
case "$swap_limit" in
  true | false) ;;
  *)
    printf 'encrypted-platform[docker-facts]: ERROR: docker info gave no SwapLimit (got %s)\n' "$swap_limit" >&2
    exit 1
    ;;
esac
printf 'swap-limit=%s\n' "$swap_limit"
