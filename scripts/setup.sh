#!/usr/bin/env bash
# Idempotent machine set-up behind `make run`, `make test` and .ci/run.
#
#   scripts/setup.sh services   PostgreSQL + Redis answering, the app's role and database present,
#                               HAProxy installed (the load balancer of `make run`, config/haproxy.cfg),
#                               ffmpeg installed (the `media` worker's thumbnails and transcodes)
#   scripts/setup.sh python     python3 with venv support (Debian: python3-venv)
#   scripts/setup.sh browser    Debian's Chromium for the Playwright tests, Node.js for the JS test
#   scripts/setup.sh bench      Debian's wrk (HTTP load generator) for bench/bench_redirect.py
#
# On a fresh Debian machine (as root) it installs what is missing with apt-get and starts it; where
# the services already answer it installs and starts nothing.
set -euo pipefail

DB_NAME=${DB_NAME:-sysdesign}
DB_USER=${DB_USER:-sysdesign}
DB_PASSWORD=${DB_PASSWORD:-sysdesign}
REDIS_PORT=${REDIS_PORT:-6379}

say() { printf '[setup] %s\n' "$*"; }

APT_UPDATED=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "need Debian packages: $* (run as root, or install them yourself)"; exit 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for() {  # wait_for <what> <seconds> <command...>
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  say "$what did not come up within ${seconds}s"; return 1
}

ensure_python() {
  command -v python3 >/dev/null || apt_install python3
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  # PyICU (look-alike usernames, accounts/usernames.py) has no wheels: pip builds it against the
  # system's ICU, which needs its headers, pkg-config, a C++ compiler and Python's headers.
  local missing=()
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  { command -v pkg-config >/dev/null && pkg-config --exists icu-uc; } || missing+=(libicu-dev)
  command -v g++ >/dev/null || missing+=(g++)
  python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    2>/dev/null || missing+=(python3-dev)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }

as_postgres() {  # psql as the superuser: peer auth over the socket when root, else TCP
  if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"
  else
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
  fi
}

ensure_postgres() {
  command -v pg_isready >/dev/null && command -v pg_ctlcluster >/dev/null \
    || apt_install postgresql postgresql-client
  if pg_up; then
    say "PostgreSQL answers on 127.0.0.1:5432"
  else
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$version" ]; then
      version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
      pg_createcluster "$version" main >/dev/null
    fi
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL 30 pg_up
  fi
  # The app's own role (password auth works under Debian's default scram pg_hba and under trust).
  if [ -z "${DATABASE_URL:-}" ]; then
    if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
      say "creating role $DB_USER"
      as_postgres -c "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
    fi
    if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
      say "creating database $DB_NAME"
      as_postgres -c "CREATE DATABASE $DB_NAME OWNER $DB_USER"
    fi
  fi
}

redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  if redis_up; then
    say "Redis answers on 127.0.0.1:$REDIS_PORT"
    return
  fi
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  local dir=/var/lib/redis log=/var/log/redis/sysdesign.log
  [ -w "$dir" ] || dir=$(mktemp -d)
  [ -w "$(dirname "$log")" ] || log="$dir/redis.log"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
    --save "" --appendonly no --dir "$dir" --logfile "$log"
  wait_for Redis 15 redis_up
}

ensure_browser() {
  if [ -x /usr/bin/chromium ]; then
    say "Chromium is installed"
  else
    apt_install chromium fonts-liberation
  fi
}

ensure_node() {  # Debian's Node.js: a test runs the compose box's counter (static/js) against the server's
  if command -v node >/dev/null; then
    say "Node.js is installed"
  else
    apt_install nodejs
  fi
}

ensure_haproxy() {
  if command -v haproxy >/dev/null; then
    say "HAProxy is installed"
  else
    apt_install haproxy
  fi
}

ensure_ffmpeg() {  # Debian's ffmpeg: libx264 and AAC for the transcodes (timeline/media.py)
  if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
    say "ffmpeg is installed"
  else
    apt_install ffmpeg
  fi
}

ensure_wrk() {
  if command -v wrk >/dev/null; then
    say "wrk is installed"
  else
    apt_install wrk
  fi
}

for what in "$@"; do
  case "$what" in
    services) ensure_postgres; ensure_redis; ensure_haproxy; ensure_ffmpeg ;;
    python) ensure_python ;;
    browser) ensure_browser; ensure_node ;;
    bench) ensure_wrk ;;
    *) say "unknown step: $what"; exit 2 ;;
  esac
done
