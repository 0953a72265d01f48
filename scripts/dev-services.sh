#!/usr/bin/env bash
# Provisions the services the test suite can use on this machine: a PostgreSQL server on
# 127.0.0.1 (trust auth for the postgres user, a throw-away cluster) with the database
# plangate_test, and, with --redis, a Redis server. Prints the variables to export on stdout, the
# progress on stderr, so a developer can run:
#
#   eval "$(sudo bash scripts/dev-services.sh)" && npm test
#
# Options: --redis also installs redis-server (the shared rate-limit tests start their own from it),
# starts Redis and prints TEST_REDIS_URL (for trying REDIS_URL by hand); --pgbench also
# installs pgbench, which only `npm run bench` needs.
#
# Meant to run as root on Debian 12 (CI runs it from .ci/run); missing packages are installed
# with apt. Without root it can only reuse servers that already run. Every step is idempotent:
# re-running it reuses servers that are already up, and it recovers from a crashed (kill -9)
# PostgreSQL.
#
# Overridable ports: PGPORT_CI (default 5432), REDISPORT_CI (default 6379).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WITH_REDIS=0
WITH_PGBENCH=0
for arg in "$@"; do
  case "$arg" in
    --redis) WITH_REDIS=1 ;;
    --pgbench) WITH_PGBENCH=1 ;;
    -h | --help)
      sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown option: $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

PGPORT="${PGPORT_CI:-5432}"
REDISPORT="${REDISPORT_CI:-6379}"
PG_ROOT=/var/lib/postgresql
PGDATA_CI="$PG_ROOT/plangate-ci"     # dedicated cluster, never Debian's "main"
PG_LOG="$PG_ROOT/plangate-ci.log"
PG_SOCKET_DIR=/var/run/postgresql
REDIS_LOG="/tmp/plangate-ci-redis-$REDISPORT.log"
DB_NAME=plangate_test

export DEBIAN_FRONTEND=noninteractive

# stdout carries only the export lines; everything else goes to stderr.
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# --- binaries ----------------------------------------------------------------

# Newest /usr/lib/postgresql/<major>/bin holding a server. We prefer it over
# PATH, where wrappers/symlinks (e.g. /usr/local/bin/pg_ctl) may live.
find_pg_bin() {
  local dir
  dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  if [[ -n "$dir" && -x "$dir/postgres" ]]; then
    echo "$dir"
  elif command -v postgres >/dev/null 2>&1; then
    dirname "$(command -v postgres)"
  fi
}

# Run a PostgreSQL binary: from PG_BIN if present there, else from PATH.
pgcmd() {
  local name=$1; shift
  if [[ -x "$PG_BIN/$name" ]]; then "$PG_BIN/$name" "$@"; else "$name" "$@"; fi
}

# initdb/postgres refuse to run as root, so server-side commands run as the
# postgres OS user (from / so an unreadable cwd does not bother them).
as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_tool() { # like pgcmd, but as the postgres user
  local name=$1; shift
  if [[ -x "$PG_BIN/$name" ]]; then as_postgres "$PG_BIN/$name" "$@"; else as_postgres "$name" "$@"; fi
}

pg_binaries_present() {
  local bin
  bin=$(find_pg_bin)
  [[ -n "$bin" ]] || return 1
  local b
  for b in initdb pg_ctl postgres pg_isready psql createdb; do
    [[ -x "$bin/$b" ]] || command -v "$b" >/dev/null 2>&1 || return 1
  done
}

pgbench_present() {
  local bin
  bin=$(find_pg_bin)
  [[ -n "$bin" && -x "$bin/pgbench" ]] || command -v pgbench >/dev/null 2>&1
}

redis_binaries_present() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

# --- packages ----------------------------------------------------------------

apt_lists_empty() {
  # Lists may be stored compressed (e.g. *_Packages.lz4 with Acquire::GzipIndexes).
  ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

install_packages() {
  local pkgs=()
  local need_pgbench=0
  pg_binaries_present || pkgs+=(postgresql)
  if ((WITH_REDIS)) && ! redis_binaries_present; then pkgs+=(redis-server); fi
  if ((WITH_PGBENCH)) && ! pgbench_present; then need_pgbench=1; fi
  ((${#pkgs[@]} || need_pgbench)) || return 0
  [[ $(id -u) -eq 0 ]] ||
    die "missing ${pkgs[*]:-pgbench}: run as root to install it with apt, or install it yourself"
  if apt_lists_empty; then
    apt-get update >&2
  fi
  # pgbench ships in the server package on Debian 12, in postgresql-contrib on some releases.
  if ((need_pgbench)); then
    [[ " ${pkgs[*]} " == *" postgresql "* ]] || pkgs+=(postgresql)
    if apt-cache show postgresql-contrib >/dev/null 2>&1; then pkgs+=(postgresql-contrib); fi
  fi
  log "installing ${pkgs[*]} (apt)"
  # A failing install usually means stale lists: refresh once and retry.
  if ! apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; then
    apt-get update >&2
    apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
  fi
  pg_binaries_present || die "PostgreSQL binaries still missing after install"
  if ((WITH_REDIS)); then
    redis_binaries_present || die "redis-server/redis-cli still missing after install"
  fi
  if ((WITH_PGBENCH)); then
    pgbench_present || die "pgbench still missing after install"
  fi
}

# --- PostgreSQL --------------------------------------------------------------

pg_ready() { pgcmd pg_isready -q -h 127.0.0.1 -p "$PGPORT" -U postgres; }

# psql as the postgres superuser over TCP (trust auth, never prompts).
pg_psql() { pgcmd psql -X -w -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

pg_log_tail() {
  echo "---- tail of $PG_LOG ----" >&2
  tail -n 50 "$PG_LOG" >&2 2>/dev/null || true
}

wait_for_pg() { # $1 = timeout in seconds
  local i
  for ((i = 0; i < $1; i++)); do
    pg_ready && return 0
    sleep 1
  done
  return 1
}

# Is process $1 alive? Zombies count as dead: in containers without an init
# that reaps orphans, a kill -9'ed postmaster stays around as a zombie.
pid_alive() {
  local stat
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat%% *}" != Z ]]
}

# Is $1 a live PostgreSQL process?
is_postgres_pid() {
  pid_alive "$1" && grep -qx 'postgres\|postmaster' "/proc/$1/comm" 2>/dev/null
}

# Is $1 a live PostgreSQL process of *our* cluster (postgres runs in its data dir)?
is_our_postgres_pid() {
  is_postgres_pid "$1" && [[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" == "$PGDATA_CI" ]]
}

# After a postmaster was kill -9'ed its child processes may linger for a moment;
# they keep the old shared memory attached, which blocks a new start.
reap_orphan_backends() {
  local i pids p
  for ((i = 0; i < 20; i++)); do
    pids=()
    for p in /proc/[0-9]*; do
      if is_our_postgres_pid "${p#/proc/}"; then pids+=("${p#/proc/}"); fi
    done
    ((${#pids[@]})) || return 0
    if ((i == 10)); then
      echo "killing orphaned postgres processes: ${pids[*]}" >&2
      kill -9 "${pids[@]}" 2>/dev/null || true
    fi
    sleep 0.5
  done
}

# Debian's package scripts may create and start a "main" cluster on 5432. It
# only allows password auth on 127.0.0.1, so it is useless to us: stop it.
stop_debian_cluster_on_port() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  local ver name port status rest stopped=1
  while read -r ver name port status rest; do
    if [[ "$port" == "$PGPORT" && "$status" == online* ]]; then
      log "stopping Debian cluster $ver/$name, it occupies port $PGPORT"
      pg_ctlcluster "$ver" "$name" stop >&2 && stopped=0
    fi
  done < <(pg_lsclusters -h 2>/dev/null)
  return "$stopped"
}

init_pg_cluster() {
  install -d -o postgres -g postgres -m 755 "$PG_ROOT"
  install -d -o postgres -g postgres -m 2775 "$PG_SOCKET_DIR"

  # A cluster from an older major version cannot be started: rebuild it (it
  # only holds throw-away test data).
  local major
  major=$(pgcmd postgres --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
  if [[ -f "$PGDATA_CI/PG_VERSION" && "$(cat "$PGDATA_CI/PG_VERSION")" != "$major" ]]; then
    log "discarding $PGDATA_CI (made by PostgreSQL $(cat "$PGDATA_CI/PG_VERSION"), server is $major)"
    rm -rf "$PGDATA_CI"
  fi

  if [[ ! -f "$PGDATA_CI/PG_VERSION" ]]; then
    # initdb into a scratch dir and rename it, so an interrupted initdb never
    # leaves a half-made cluster behind.
    local tmp="$PGDATA_CI.initdb-tmp"
    log "initdb $PGDATA_CI"
    rm -rf "$tmp" "$PGDATA_CI"
    install -d -o postgres -g postgres -m 700 "$tmp"
    pg_tool initdb -D "$tmp" -U postgres --auth=trust -E UTF8 >/dev/null
    mv "$tmp" "$PGDATA_CI"
  fi
  chown postgres:postgres "$PGDATA_CI"
  chmod 700 "$PGDATA_CI"
}

start_postgres() {
  # 1. Something already answers on the port: reuse it if we can log in with
  #    trust auth, otherwise try to get Debian's own cluster out of the way.
  if pg_ready; then
    if pg_psql -tAc 'select 1' >/dev/null 2>&1; then
      log "PostgreSQL already running on 127.0.0.1:$PGPORT, reusing it"
      return 0
    fi
    stop_debian_cluster_on_port ||
      die "port $PGPORT is taken by a PostgreSQL server that refuses password-less login as postgres (set PGPORT_CI)"
  fi

  init_pg_cluster

  # 2. Our pid file exists but nobody answered on the port.
  local pid_file="$PGDATA_CI/postmaster.pid"
  if [[ -f "$pid_file" ]]; then
    local pid file_port
    pid=$(sed -n 1p "$pid_file" 2>/dev/null || true)
    file_port=$(sed -n 4p "$pid_file" 2>/dev/null || true)
    if is_our_postgres_pid "$pid"; then
      if [[ "$file_port" != "$PGPORT" ]]; then
        # Our server, but running on another port (PGPORT_CI changed): restart.
        log "restarting PostgreSQL (was on port $file_port)"
        pg_tool pg_ctl -D "$PGDATA_CI" -m fast -w stop >&2
      elif wait_for_pg 30; then
        # Our server, still starting up / recovering.
        log "PostgreSQL already running on 127.0.0.1:$PGPORT, reusing it"
        return 0
      else
        pg_log_tail
        die "PostgreSQL (pid $pid) is running but does not accept connections"
      fi
    else
      # Left over from a crash: the postmaster is gone.
      log "removing stale $pid_file"
      reap_orphan_backends
      rm -f "$pid_file"
    fi
  fi

  # The socket lock file names the old postmaster too. PostgreSQL only removes
  # it if that PID is gone, and a zombie PID is not "gone" to kill(pid, 0).
  local sock_lock="$PG_SOCKET_DIR/.s.PGSQL.$PGPORT.lock"
  if [[ -f "$sock_lock" ]]; then
    local lock_pid
    lock_pid=$(sed -n 1p "$sock_lock" 2>/dev/null || true)
    if ! pid_alive "$lock_pid"; then
      log "removing stale $sock_lock"
      rm -f "$sock_lock" "$PG_SOCKET_DIR/.s.PGSQL.$PGPORT"
    fi
  fi

  # 3. Start our cluster. fsync & co. are off: this database is disposable.
  log "starting PostgreSQL on 127.0.0.1:$PGPORT ($PGDATA_CI)"
  touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
  local opts="-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PG_SOCKET_DIR"
  opts+=" -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  if ! pg_tool pg_ctl -D "$PGDATA_CI" -l "$PG_LOG" -o "$opts" -t 60 -w start >&2; then
    pg_log_tail
    die "pg_ctl start failed"
  fi
  if ! wait_for_pg 30; then
    pg_log_tail
    die "PostgreSQL did not become ready on 127.0.0.1:$PGPORT within 30s"
  fi
}

ensure_database() {
  if [[ "$(pg_psql -tAc "select 1 from pg_database where datname='$DB_NAME'")" != 1 ]]; then
    log "creating database $DB_NAME"
    pgcmd createdb -w -h 127.0.0.1 -p "$PGPORT" -U postgres "$DB_NAME"
  fi
}

# --- Redis -------------------------------------------------------------------

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDISPORT" ping 2>/dev/null)" == PONG ]]; }

start_redis() {
  if redis_ready; then
    log "Redis already running on 127.0.0.1:$REDISPORT, reusing it"
    return 0
  fi
  # No persistence: test data only.
  log "starting Redis on 127.0.0.1:$REDISPORT"
  redis-server --bind 127.0.0.1 --port "$REDISPORT" --daemonize yes \
    --save '' --appendonly no --logfile "$REDIS_LOG" \
    --pidfile "/tmp/plangate-ci-redis-$REDISPORT.pid"
  local i
  for ((i = 0; i < 30; i++)); do
    redis_ready && return 0
    sleep 1
  done
  tail -n 30 "$REDIS_LOG" >&2 2>/dev/null || true
  die "Redis did not answer PING on 127.0.0.1:$REDISPORT within 30s"
}

# --- main --------------------------------------------------------------------

install_packages
PG_BIN=$(find_pg_bin)

start_postgres
ensure_database
log "postgres  $(pg_psql -tAc 'select version()')"
echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/$DB_NAME"

if ((WITH_REDIS)); then
  start_redis
  log "redis     $(redis-server --version)"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDISPORT"
fi
