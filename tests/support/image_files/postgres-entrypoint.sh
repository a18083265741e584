#!/bin/sh
# Entry point of the test image around Debian's PostgreSQL 15 (tests/support/images.py,
# postgres_rootfs), run by busybox sh as the postgres user (uid 70). Like the official image's:
# on a $PGDATA without a cluster it runs initdb (superuser $POSTGRES_USER, its password read by
# initdb from $POSTGRES_PASSWORD_FILE when set) and creates $POSTGRES_DB, then it execs postgres.
#
# Authentication: trust on the unix socket (/var/run/postgresql: only processes inside the
# container reach it, e.g. `docker exec ... psql -h /var/run/postgresql`), scram-sha-256 over TCP.
# postgres listens on the socket only unless POSTGRES_LISTEN_ADDRESSES names addresses (or a
# later `-c listen_addresses=...` argument does). A password is taken from a file only: a
# POSTGRES_PASSWORD in the environment is refused, not used.
set -euo pipefail

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
LISTEN_ADDRESSES="${POSTGRES_LISTEN_ADDRESSES:-}"
export PGDATA

die() {
  printf 'postgres-entrypoint: %s\n' "$*" >&2
  exit 1
}

# The names go into SQL unquoted: only plain lower-case identifiers.
check_identifier() {
  case "$2" in
    '' | [!a-z_]* | *[!a-z0-9_]*) die "$1=$2: expected a name of [a-z0-9_], not starting with a digit" ;;
  esac
}

initialise() {
  local password_option=""
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE: not a readable file"
    password_option="--pwfile=$POSTGRES_PASSWORD_FILE"
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  initdb --username="$POSTGRES_USER" ${password_option:+"$password_option"} \
    --encoding=UTF8 --locale=C --auth-local=trust --auth-host=scram-sha-256
  if [ "$POSTGRES_DB" != postgres ]; then
    # A temporary server on a private socket: a readiness probe on /var/run/postgresql (pg_isready, the
    # platform's healthcheck) answers only once the real server is up.
    local init_socket_dir
    init_socket_dir=$(mktemp -d)
    pg_ctl --wait --silent --options="-c listen_addresses='' -c unix_socket_directories='$init_socket_dir'" start
    psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --host="$init_socket_dir" --username="$POSTGRES_USER" \
      --dbname=postgres --command="CREATE DATABASE $POSTGRES_DB"
    pg_ctl --wait --silent --mode=fast stop
    rmdir "$init_socket_dir"
  fi
}

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi
shift

[ "$(id -u)" != 0 ] || die "runs as the postgres user (uid 70, docker run --user 70:70), not as root"
[ -z "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD is not read (no secrets in the environment): use POSTGRES_PASSWORD_FILE"
check_identifier POSTGRES_USER "$POSTGRES_USER"
check_identifier POSTGRES_DB "$POSTGRES_DB"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initialise
fi
exec postgres -c listen_addresses="$LISTEN_ADDRESSES" "$@"
