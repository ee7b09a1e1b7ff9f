#!/bin/sh
# Entry of the sandbox product's components (stand-ins for the CD platform):
#   etcd      etcd, configured by its ETCD_* variables (HA topologies): the
#             consensus store Patroni keeps the database's leader in
#   database  PostgreSQL; DB_USER, DB_NAME, DB_PASSWORD[_FILE], DB_PORT, PGDATA.
#             With PATRONI_ETCD3_HOSTS (HA topologies: etcd's members, one
#             on this host) Patroni runs it as a member of a cluster
#             (MEMBER_NAME, MEMBER_ADDRESS): one primary, a synchronous
#             standby, automatic failover
#   migrate   the database's upgrade hook: records the release in cd_migrations
#   cache     Redis; CACHE_PASSWORD[_FILE], CACHE_PORT, CACHE_DIR; with
#             CACHE_PRIMARY (another member's address) a replica of it
#   sentinel  Redis Sentinel watching the cache's primary (SENTINEL_PRIMARY,
#             SENTINEL_QUORUM, MEMBER_ADDRESS); it moves the primary when lost
#   backend   HTTP on BACKEND_PORT; GET /health answers 200 only when the
#             database's primary and the cache's primary accept the
#             credentials it was given; POST /notes stores the body and
#             answers 201 {"id":N} once committed; GET /notes/N gives it back
#             (404: the primary has no such note; 503: it was not reached).
#             The database is DB_HOSTS (every member: libpq finds the primary),
#             the cache through CACHE_SENTINELS when given, else CACHE_HOST;
#             GET /version answers the release the image is
#   web       nginx on WEB_PORT serving a page and /api/ from BACKEND_HOST:BACKEND_PORT
#   keepalived  the VIP (ha-keepalived), its stale pid files removed first
#   role NAME   the role a member of NAME's cluster has now (one word)
#   health NAME exit 0 when this member of NAME's cluster has joined and is
#               in sync (a replica streams from its primary), not merely up
#   handover NAME  when this member leads (the database's or the cache's
#               primary), moves that to another member and returns once it
#               follows; nothing otherwise (before cdwiz replaces it)
#   dump NAME   a backup of NAME's data on standard output (the database:
#               pg_dump of DB_NAME, also on a replica)
#   check-dump NAME FILE  loads such a backup into an empty database of
#               its own and counts every table's rows (a throwaway container:
#               no network, nothing else touched)
#   restore NAME FILE  puts such a backup back into this member, which
#               must be the primary (the replicas follow): the database's
#               tables become the backup's, in one transaction
# Secrets come from files (X_FILE) so that they stay out of `docker inspect`.
set -eu

secret() {
  eval "file=\${$1_FILE:-}"
  if [ -n "$file" ]; then cat "$file"; else eval "printf %s \"\${$1:-}\""; fi
}

PGBIN=/usr/lib/postgresql/15/bin

case "${1:-}" in
etcd)
  exec etcd
  ;;
database)
  PGDATA=${PGDATA:-/var/lib/cd/database}
  user=${DB_USER:-cd}
  db=${DB_NAME:-cd}
  mkdir -p /run/postgresql && chown postgres /run/postgresql
  # The lock files a power loss left (postmaster.pid, the socket's lock in
  # /run, which is no tmpfs in a container) name a pid that, in this new
  # container, may be another process: PostgreSQL would refuse to start
  # ("lock file already exists") and Patroni wait five minutes holding the
  # leader key. Nothing else uses them, and nothing of this container runs
  # yet.
  rm -f "$PGDATA/postmaster.pid" /run/postgresql/.s.PGSQL.*
  if [ -n "${PATRONI_ETCD3_HOSTS:-}" ]; then
    exec "$0" patroni
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    pwfile=$(mktemp)
    secret DB_PASSWORD > "$pwfile"
    chown postgres "$pwfile"
    su postgres -s /bin/sh -c "$PGBIN/initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null"
    rm -f "$pwfile"
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "CREATE DATABASE \"$db\";" | su postgres -s /bin/sh -c \
      "$PGBIN/postgres --single -D '$PGDATA' -j postgres" >/dev/null
  fi
  exec su postgres -s /bin/sh -c "exec $PGBIN/postgres -D '$PGDATA' \
    -c listen_addresses='*' -c port=${DB_PORT:-5432} -c jit=off"
  ;;
patroni)
  # A member of the replicated database: Patroni holds the leader key in
  # etcd (TTL 8 s, checked every second), keeps one synchronous standby
  # (a commit is acknowledged once a second member has it) and promotes
  # only a synchronous standby, so no acknowledged write is lost.
  PGDATA=${PGDATA:-/var/lib/cd/database}
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  password=$(secret DB_PASSWORD)
  conf=/run/postgresql/patroni.yml
  umask 077
  cat > "$conf" <<CONF
scope: cd
name: ${MEMBER_NAME}
restapi:
  listen: 0.0.0.0:${PATRONI_PORT:-8008}
  connect_address: ${MEMBER_ADDRESS}:${PATRONI_PORT:-8008}
etcd3:
  # The member on this host, which forwards to etcd's leader: a lost host
  # costs this client nothing (asked in turn, Patroni 3.0 stalled for
  # longer than its TTL on a host that stopped answering).
  hosts: 127.0.0.1:2379
  use_proxies: true
bootstrap:
  dcs:
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        # A standby that vanished (its host lost) is let go within 5 s, so
        # Patroni picks another synchronous standby and commits go on.
        wal_sender_timeout: 5s
        jit: "off"
  initdb:
    - encoding: UTF8
    - auth-local: trust
    - auth-host: scram-sha-256
  post_bootstrap: $0 database-created
postgresql:
  listen: 0.0.0.0:${DB_PORT:-5432}
  connect_address: ${MEMBER_ADDRESS}:${DB_PORT:-5432}
  data_dir: ${PGDATA}
  bin_dir: ${PGBIN}
  pgpass: /run/postgresql/pgpass
  authentication:
    superuser: { username: ${DB_USER:-cd}, password: "${password}" }
    replication: { username: replicator, password: "${password}" }
    rewind: { username: ${DB_USER:-cd}, password: "${password}" }
  pg_hba:
    - local all all trust
    - host replication replicator 0.0.0.0/0 scram-sha-256
    - host all all 0.0.0.0/0 scram-sha-256
tags:
  nofailover: false
CONF
  chown postgres "$conf"
  exec su postgres -s /bin/sh -c "exec patroni $conf"
  ;;
database-created)
  # Patroni's post_bootstrap, once, on the member that made the cluster.
  psql -qtA -h /var/run/postgresql -U "${DB_USER:-cd}" -d postgres \
    -c "CREATE DATABASE \"${DB_NAME:-cd}\"" >/dev/null
  ;;
migrate)
  # The upgrade hook: run once from the new release's image on the
  # database's host before any host is upgraded; records the release it
  # migrated to (the running database is reached over the host network).
  version=$(cat /etc/cd-sandbox/version)
  PGPASSWORD=$(secret DB_PASSWORD) PGCONNECT_TIMEOUT=10 psql -v ON_ERROR_STOP=1 -qtA \
    "host=${DB_HOSTS:-127.0.0.1} port=${DB_PORT:-5432} user=${DB_USER:-cd} dbname=${DB_NAME:-cd} target_session_attrs=read-write" \
    -c "create table if not exists cd_migrations (version text not null, at timestamptz default now())" \
    -c "insert into cd_migrations (version) values ('$version')"
  echo "migrated the database to $version"
  ;;
cache)
  dir=${CACHE_DIR:-/var/lib/cd/cache}
  mkdir -p "$dir"
  conf=$dir/redis.conf
  # Written once: afterwards Sentinel rewrites it (which member it follows).
  if [ ! -s "$conf" ]; then
    umask 077
    password=$(secret CACHE_PASSWORD)
    {
      echo "bind 0.0.0.0"
      echo "port ${CACHE_PORT:-6379}"
      echo "dir $dir"
      echo "appendonly yes"
      echo "protected-mode no"
      printf 'requirepass "%s"\n' "$password"
      printf 'masterauth "%s"\n' "$password"
      if [ -n "${MEMBER_ADDRESS:-}" ]; then echo "replica-announce-ip ${MEMBER_ADDRESS}"; fi
      if [ -n "${CACHE_PRIMARY:-}" ]; then echo "replicaof ${CACHE_PRIMARY} ${CACHE_PORT:-6379}"; fi
    } > "$conf.new"
    mv "$conf.new" "$conf"
  fi
  exec redis-server "$conf"
  ;;
sentinel)
  dir=${SENTINEL_DIR:-/var/lib/cd/sentinel}
  mkdir -p "$dir"
  conf=$dir/sentinel.conf
  # Written once: Sentinel keeps its own state (the primary now) in it.
  if [ ! -s "$conf" ]; then
    umask 077
    {
      echo "port ${SENTINEL_PORT:-26379}"
      echo "dir $dir"
      echo "protected-mode no"
      echo "sentinel announce-ip ${MEMBER_ADDRESS}"
      echo "sentinel monitor cd ${SENTINEL_PRIMARY} ${CACHE_PORT:-6379} ${SENTINEL_QUORUM:-2}"
      printf 'sentinel auth-pass cd "%s"\n' "$(secret CACHE_PASSWORD)"
      echo "sentinel down-after-milliseconds cd 2000"
      echo "sentinel failover-timeout cd 10000"
      echo "sentinel parallel-syncs cd 1"
    } > "$conf.new"
    mv "$conf.new" "$conf"
  fi
  exec redis-server "$conf" --sentinel
  ;;
backend)
  exec socat "TCP-LISTEN:${BACKEND_PORT:-8080},fork,reuseaddr" SYSTEM:"$0 backend-request"
  ;;
backend-request)
  read -r method path _rest || exit 0
  path=$(printf %s "$path" | tr -d '\r')
  length=0
  while read -r line; do
    line=$(printf %s "$line" | tr -d '\r')
    [ -z "$line" ] && break
    case "$line" in
    [Cc]ontent-[Ll]ength:*) length=$(printf %s "${line#*:}" | tr -dc 0-9) ;;
    esac
  done
  reply() {
    printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
      "$1" "$(printf %s "$2" | wc -c)" "$2"
  }
  db() {
    PGPASSWORD=$(secret DB_PASSWORD) PGCONNECT_TIMEOUT=2 psql -X -v ON_ERROR_STOP=1 -qtA "$@" \
      "host=${DB_HOSTS:-${DB_HOST:-127.0.0.1}} port=${DB_PORT:-5432} user=${DB_USER:-cd} dbname=${DB_NAME:-cd} target_session_attrs=read-write"
  }
  cache_primary() {
    if [ -z "${CACHE_SENTINELS:-}" ]; then
      echo "${CACHE_HOST:-127.0.0.1} ${CACHE_PORT:-6379}"; return
    fi
    for s in $(printf %s "$CACHE_SENTINELS" | tr , ' '); do
      addr=$(timeout 2 redis-cli -h "${s%:*}" -p "${s##*:}" --raw \
        sentinel get-master-addr-by-name cd 2>/dev/null | tr '\n' ' ')
      if [ -n "$addr" ]; then echo "$addr"; return; fi
    done
  }
  case "$method $path" in
  "GET /health")
    if db -c 'select 1' >/dev/null 2>&1; then database=ok; else database=fail; fi
    set -- $(cache_primary)
    if [ -n "${1:-}" ] && [ "$(REDISCLI_AUTH=$(secret CACHE_PASSWORD) timeout 3 redis-cli \
        --no-auth-warning -h "$1" -p "${2:-6379}" ping 2>/dev/null)" = PONG ]; then
      cache=ok; else cache=fail; fi
    body="{\"database\":\"$database\",\"cache\":\"$cache\"}"
    if [ $database = ok ] && [ $cache = ok ]; then reply "200 OK" "$body"; else
      reply "503 Service Unavailable" "$body"; fi
    ;;
  "POST /notes")
    # The body as a psql variable (quoted by psql, never spliced into SQL);
    # the answer only once the commit returned.
    text=$(head -c "$length")
    if id=$(printf '%s\n' \
        "create table if not exists notes (id bigserial primary key, text text not null, at timestamptz not null default now());" \
        "insert into notes (text) values (:'text') returning id;" \
        | db -v text="$text" 2>/dev/null | tail -n 1) && [ -n "$id" ]; then
      reply "201 Created" "{\"id\":$id}"
    else
      reply "503 Service Unavailable" '{"error":"not stored"}'
    fi
    ;;
  "GET /notes/"*)
    # 404 only when the primary says there is no such note; 503 when it
    # could not be asked (a read that failed proves nothing lost).
    id=$(printf %s "${path#/notes/}" | tr -dc 0-9)
    if [ -z "$id" ]; then
      reply "404 Not Found" '{"error":"no such note"}'
    elif ! text=$(db -c "select text from notes where id = $id" 2>/dev/null); then
      reply "503 Service Unavailable" '{"error":"database not reached"}'
    elif [ -n "$text" ]; then
      printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\n\r\n%s' \
        "$(printf %s "$text" | wc -c)" "$text"
    else
      reply "404 Not Found" '{"error":"no such note"}'
    fi
    ;;
  "GET /version")
    reply "200 OK" "{\"version\":\"$(cat /etc/cd-sandbox/version 2>/dev/null || echo unknown)\"}"
    ;;
  *)
    reply "200 OK" '{"service":"cd-backend","edition":"sandbox"}'
    ;;
  esac
  ;;
role)
  # The role this member has now, one word (`cdwiz status` shows it).
  case "${2:-}" in
  etcd)
    status=$(etcdctl endpoint status -w fields 2>/dev/null) || exit 1
    member=$(printf '%s\n' "$status" | sed -n 's/^"MemberID" : //p')
    leader=$(printf '%s\n' "$status" | sed -n 's/^"Leader" : //p')
    if [ -n "$member" ] && [ "$member" = "$leader" ]; then echo leader; else echo follower; fi
    ;;
  database)
    in_recovery=$(psql -X -qtA -h /var/run/postgresql -U "${DB_USER:-cd}" -d postgres \
      -c 'select pg_is_in_recovery()' 2>/dev/null) || exit 1
    if [ "$in_recovery" = f ]; then echo primary; else echo replica; fi
    ;;
  cache)
    role=$(REDISCLI_AUTH=$(secret CACHE_PASSWORD) redis-cli --no-auth-warning \
      -p "${CACHE_PORT:-6379}" info replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p')
    case "$role" in master) echo primary ;; slave) echo replica ;; *) exit 1 ;; esac
    ;;
  sentinel) echo sentinel ;;
  *) exit 64 ;;
  esac
  ;;
health)
  case "${2:-}" in
  etcd) etcdctl endpoint health >/dev/null ;;
  database)
    state=$(psql -X -qtA -h /var/run/postgresql -U "${DB_USER:-cd}" -d postgres -c \
      "select case when not pg_is_in_recovery() then 'primary'
        when exists (select 1 from pg_stat_wal_receiver where status = 'streaming')
        then 'streaming' else 'not streaming' end") || exit 1
    echo "$state"
    [ "$state" = primary ] || [ "$state" = streaming ]
    ;;
  cache)
    info=$(REDISCLI_AUTH=$(secret CACHE_PASSWORD) redis-cli --no-auth-warning \
      -p "${CACHE_PORT:-6379}" info replication | tr -d '\r') || exit 1
    case "$info" in
    *role:master*) echo primary ;;
    *master_link_status:up*) echo "replica in sync" ;;
    *) echo "replica not in sync"; exit 1 ;;
    esac
    ;;
  sentinel)
    answer=$(redis-cli -p "${SENTINEL_PORT:-26379}" sentinel ckquorum cd 2>&1)
    echo "$answer"
    case "$answer" in OK*) ;; *) exit 1 ;; esac
    ;;
  *) exit 64 ;;
  esac
  ;;
handover)
  # Waits up to a minute for this member to follow another.
  follows() {
    i=0
    while [ "$("$0" role "$1")" = primary ]; do
      i=$((i + 1)); [ $i -le 60 ] || { echo "still the primary after 60 s"; exit 1; }
      sleep 1
    done
    echo "now a replica"
  }
  case "${2:-}" in
  database)
    [ "$("$0" role database)" = primary ] || { echo "not the primary: nothing to hand over"; exit 0; }
    # Patroni picks the synchronous standby, which has every commit.
    patronictl -c /run/postgresql/patroni.yml switchover --force cd
    follows database
    ;;
  cache)
    [ "$("$0" role cache)" = primary ] || { echo "not the primary: nothing to hand over"; exit 0; }
    redis-cli -p "${SENTINEL_PORT:-26379}" sentinel failover cd
    follows cache
    ;;
  *) echo "nothing to hand over" ;;
  esac
  ;;
dump)
  [ "${2:-}" = database ] || { echo "no backup of ${2:-}" >&2; exit 64; }
  exec pg_dump -h /var/run/postgresql -p "${DB_PORT:-5432}" -U "${DB_USER:-cd}" \
    --no-owner --no-privileges --clean --if-exists "${DB_NAME:-cd}"
  ;;
restore)
  [ "${2:-}" = database ] || { echo "no restore of ${2:-}" >&2; exit 64; }
  f=${3:?restore database FILE}
  [ "$("$0" role database)" = primary ] || { echo "not the primary: a restore goes to the primary" >&2; exit 1; }
  # The schema emptied first (a table made after the backup, by a newer
  # release's migration, goes too), then the backup's; one transaction, so
  # a restore that fails changes nothing.
  { echo 'drop schema public cascade; create schema public;'; cat "$f"; } |
    PGOPTIONS='-c client_min_messages=warning' psql -X -v ON_ERROR_STOP=1 -q --single-transaction -h /var/run/postgresql \
      -p "${DB_PORT:-5432}" -U "${DB_USER:-cd}" -d "${DB_NAME:-cd}" -f - >/dev/null
  echo "restored $(psql -X -qtA -h /var/run/postgresql -p "${DB_PORT:-5432}" -U "${DB_USER:-cd}" \
    -d "${DB_NAME:-cd}" -c "select count(*) from pg_tables where schemaname = 'public'") tables"
  ;;
check-dump)
  [ "${2:-}" = database ] || { echo "no backup of ${2:-}" >&2; exit 64; }
  dir=$(mktemp -d)
  chown postgres "$dir"
  su postgres -s /bin/sh -c "$PGBIN/initdb -D '$dir/data' -U cd --auth=trust -E UTF8 >/dev/null" \
    || { echo "initdb failed" >&2; exit 1; }
  su postgres -s /bin/sh -c "$PGBIN/pg_ctl -D '$dir/data' -w -s -l '$dir/log' \
    -o \"-c listen_addresses='' -c unix_socket_directories='$dir' -c jit=off\" start" \
    || { cat "$dir/log" >&2; exit 1; }
  q() { psql -X -v ON_ERROR_STOP=1 -qtA -h "$dir" -U cd "$@"; }
  cp "${3:?check-dump database FILE}" "$dir/dump"
  # pg_dump ends its dump with this line (and, since 15.14, \unrestrict):
  # one cut off anywhere lacks it.
  tail -n 8 "$dir/dump" | grep -q '^-- PostgreSQL database dump complete' \
    || { echo "the dump is cut off: it lacks pg_dump's last line" >&2; exit 1; }
  q -d postgres -c 'create database restored' >/dev/null
  # The whole dump in one transaction: one that fails loads nothing.
  if ! q -d restored --single-transaction -f "$dir/dump" >/dev/null 2>"$dir/errors"; then
    echo "the dump did not load: $(tail -n 3 "$dir/errors")" >&2
    exit 1
  fi
  tables=$(q -d restored -c "select tablename from pg_tables where schemaname = 'public' order by 1")
  [ -n "$tables" ] || { echo "the dump holds no table" >&2; exit 1; }
  for t in $tables; do
    echo "$t $(q -d restored -c "select count(*) from \"$t\"")"
  done
  ;;
keepalived)
  # The pid files of a run before a power loss survive in the container
  # and name pid 1, which is alive (this one): keepalived would refuse to
  # start ("daemon is already running") and the host never take the VIP
  # again.
  rm -f /run/keepalived*.pid /run/keepalived/*.pid /var/run/keepalived*.pid
  exec keepalived --dont-fork --log-console -f /etc/keepalived/keepalived.conf
  ;;
web)
  conf=/etc/nginx/conf.d/cd-web.conf
  if [ ! -s "$conf" ]; then
    cat > "$conf" <<CONF
server {
  listen ${WEB_PORT:-80};
  location / { default_type text/html; return 200 '<h1>CD platform (sandbox)</h1>'; }
  location /api/ { proxy_pass http://${BACKEND_HOST:-127.0.0.1}:${BACKEND_PORT:-8080}/; }
}
CONF
  fi
  exec nginx -g 'daemon off;'
  ;;
*)
  echo "usage: $0 etcd|database|migrate|cache|sentinel|backend|web|keepalived|role|health|handover|dump|check-dump|restore" >&2
  exit 64
  ;;
esac
