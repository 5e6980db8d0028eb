#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis are installed, running and reachable, and
# that the databases named by DATABASE_URL and TEST_DATABASE_URL exist.
#
# - DATABASE_URL / TEST_DATABASE_URL / REDIS_URL pointing at another host are
#   used as they are: nothing is installed for them.
# - On a Debian/Ubuntu machine without the servers, installs them with
#   apt-get (root, or sudo) and starts them (PostgreSQL runs as the postgres
#   user: initdb refuses root).
# Progress goes to stderr; the script exits non-zero with advice on failure.
set -euo pipefail

DATABASE_URL=${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable}
TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/thermo_test?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi

is_local() { case "$1" in *@127.0.0.1[:/]*|*@localhost[:/]*|*://127.0.0.1[:/]*|*://localhost[:/]*) return 0 ;; *) return 1 ;; esac; }

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and this is not a Debian/Ubuntu machine: install $* yourself, or set DATABASE_URL/REDIS_URL to running servers"
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    $SUDO apt-get update -qq >&2 || die "apt-get update failed (are you root, or is sudo set up?)"
    apt_updated=1
  fi
  say "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

# --- PostgreSQL ------------------------------------------------------------
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
      apt_install postgresql postgresql-client
    fi
  fi
  if ! pg_ready; then
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
    [ -n "$ver" ] || die "PostgreSQL is installed but has no cluster: run 'pg_createcluster <version> main --start' as root"
    say "starting PostgreSQL $ver"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 2>/dev/null \
      || $SUDO pg_ctlcluster "$ver" main start >&2 \
      || die "could not start PostgreSQL $ver: see /var/log/postgresql/"
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
    pg_ready || die "PostgreSQL did not become ready on 127.0.0.1:5432"
  fi
}

# psql as the postgres superuser over the local socket (peer auth), so a
# fresh cluster can be given the password the URLs use.
as_postgres() {
  local sql=$1
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -c "psql -qtAX -c \"$sql\""
  else
    $SUDO -u postgres psql -qtAX -c "$sql"
  fi
}

ensure_database() {
  local url=$1 base name
  name=$(printf '%s' "$url" | sed -E 's#^[a-z]+://[^/]*/([^?]*).*#\1#')
  base=$(printf '%s' "$url" | sed -E 's#^([a-z]+://[^/]*/)[^?]*(.*)$#\1postgres\2#')
  if ! psql "$base" -qtAX -c 'select 1' >/dev/null 2>&1; then
    is_local "$url" || die "cannot connect to $base: check DATABASE_URL"
    say "setting the local postgres user's password to the one in the URL"
    local pass
    pass=$(printf '%s' "$url" | sed -nE 's#^[a-z]+://[^:/@]+:([^@]*)@.*#\1#p')
    as_postgres "ALTER USER postgres PASSWORD '${pass:-postgres}'" >/dev/null \
      || die "cannot connect to PostgreSQL at $base and cannot fix it as the postgres user"
    psql "$base" -qtAX -c 'select 1' >/dev/null || die "cannot connect to $base"
  fi
  if [ "$(psql "$base" -qtAX -c "select 1 from pg_database where datname = '$name'")" != "1" ]; then
    say "creating database $name"
    psql "$base" -qtAX -c "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

# --- Redis -------------------------------------------------------------------
redis_ready() { redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server redis-tools
  if ! redis_ready; then
    say "starting Redis on 127.0.0.1:6379"
    mkdir -p /tmp/thermo-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp/thermo-redis --logfile /tmp/thermo-redis/redis.log >&2
    for _ in $(seq 1 20); do redis_ready && break; sleep 0.5; done
    redis_ready || die "Redis did not answer on $REDIS_URL: see /tmp/thermo-redis/redis.log"
  fi
}

if is_local "$DATABASE_URL" || is_local "$TEST_DATABASE_URL"; then ensure_postgres; fi
command -v psql >/dev/null 2>&1 || apt_install postgresql-client
ensure_database "$DATABASE_URL"
ensure_database "$TEST_DATABASE_URL"
if is_local "$REDIS_URL"; then ensure_redis; else redis_ready || die "cannot reach Redis at $REDIS_URL"; fi
say "PostgreSQL and Redis are ready"

# --- Chromium (browser test) ---------------------------------------------------
# Only in CI (CI set) or when asked (--chromium / WITH_CHROMIUM=1): the e2e
# browser test skips itself without it, and it is a large download.
if [ -n "${CI:-}" ] || [ -n "${WITH_CHROMIUM:-}" ] || [ "${1:-}" = "--chromium" ]; then
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  say "Chromium is ready for the browser test"
fi
