#!/bin/sh
# Entry of the sandbox product's components (stand-ins for the CD platform):
#   database  PostgreSQL; DB_USER, DB_NAME, DB_PASSWORD[_FILE], DB_PORT, PGDATA
#   migrate   the database's upgrade hook: records the release in cd_migrations
#   cache     Redis; CACHE_PASSWORD[_FILE], CACHE_PORT, CACHE_DIR
#   backend   HTTP on BACKEND_PORT; GET /health answers 200 only when the
#             database and the cache accept the credentials it was given
#             (DB_HOST, DB_PORT, DB_USER, DB_NAME, DB_PASSWORD[_FILE],
#             CACHE_HOST, CACHE_PORT, CACHE_PASSWORD[_FILE]); GET /version
#             answers the release the image is (/etc/cd-sandbox/version)
#   web       nginx on WEB_PORT serving a page and /api/ from BACKEND_HOST:BACKEND_PORT
# Secrets come from files (X_FILE) so that they stay out of `docker inspect`.
set -eu

secret() {
  eval "file=\${$1_FILE:-}"
  if [ -n "$file" ]; then cat "$file"; else eval "printf %s \"\${$1:-}\""; fi
}

PGBIN=/usr/lib/postgresql/15/bin

case "${1:-}" in
database)
  PGDATA=${PGDATA:-/var/lib/cd/database}
  user=${DB_USER:-cd}
  db=${DB_NAME:-cd}
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
  mkdir -p /run/postgresql && chown postgres /run/postgresql
  exec su postgres -s /bin/sh -c "exec $PGBIN/postgres -D '$PGDATA' \
    -c listen_addresses='*' -c port=${DB_PORT:-5432} -c jit=off"
  ;;
migrate)
  # The upgrade hook: run once from the new release's image on the
  # database's host before any host is upgraded; records the release it
  # migrated to (the running database is reached over the host network).
  version=$(cat /etc/cd-sandbox/version)
  PGPASSWORD=$(secret DB_PASSWORD) PGCONNECT_TIMEOUT=10 psql -v ON_ERROR_STOP=1 -qtA \
    "host=127.0.0.1 port=${DB_PORT:-5432} user=${DB_USER:-cd} dbname=${DB_NAME:-cd}" \
    -c "create table if not exists cd_migrations (version text not null, at timestamptz default now())" \
    -c "insert into cd_migrations (version) values ('$version')"
  echo "migrated the database to $version"
  ;;
cache)
  dir=${CACHE_DIR:-/var/lib/cd/cache}
  mkdir -p "$dir"
  conf=$(mktemp)
  chmod 600 "$conf"
  {
    echo "bind 0.0.0.0"
    echo "port ${CACHE_PORT:-6379}"
    echo "dir $dir"
    echo "appendonly yes"
    echo "protected-mode no"
    printf 'requirepass "%s"\n' "$(secret CACHE_PASSWORD)"
  } > "$conf"
  exec redis-server "$conf"
  ;;
backend)
  exec socat "TCP-LISTEN:${BACKEND_PORT:-8080},fork,reuseaddr" SYSTEM:"$0 backend-request"
  ;;
backend-request)
  read -r _method path _rest || exit 0
  path=$(printf %s "$path" | tr -d '\r')
  while read -r line && [ "$(printf %s "$line" | tr -d '\r')" != "" ]; do :; done
  reply() {
    printf 'HTTP/1.0 %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' \
      "$1" "$(printf %s "$2" | wc -c)" "$2"
  }
  case "$path" in
  /health)
    if PGPASSWORD=$(secret DB_PASSWORD) PGCONNECT_TIMEOUT=3 psql -qtA \
        "host=${DB_HOST:-127.0.0.1} port=${DB_PORT:-5432} user=${DB_USER:-cd} dbname=${DB_NAME:-cd}" \
        -c 'select 1' >/dev/null 2>&1; then database=ok; else database=fail; fi
    if [ "$(REDISCLI_AUTH=$(secret CACHE_PASSWORD) timeout 3 redis-cli --no-auth-warning \
        -h "${CACHE_HOST:-127.0.0.1}" -p "${CACHE_PORT:-6379}" ping 2>/dev/null)" = PONG ]; then
      cache=ok; else cache=fail; fi
    body="{\"database\":\"$database\",\"cache\":\"$cache\"}"
    if [ $database = ok ] && [ $cache = ok ]; then reply "200 OK" "$body"; else
      reply "503 Service Unavailable" "$body"; fi
    ;;
  /version)
    reply "200 OK" "{\"version\":\"$(cat /etc/cd-sandbox/version 2>/dev/null || echo unknown)\"}"
    ;;
  *)
    reply "200 OK" '{"service":"cd-backend","edition":"sandbox"}'
    ;;
  esac
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
  echo "usage: $0 database|cache|backend|web" >&2
  exit 64
  ;;
esac
