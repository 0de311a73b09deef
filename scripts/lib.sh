# Shared by the scripts that run a pinned Python tool against a freshly started scimd
# (conformance.sh, schemathesis.sh). Source it; it defines functions only.

# pinned_venv DIR REQUIREMENTS: a virtualenv at DIR holding exactly REQUIREMENTS (a pinned
# requirements file), made again whenever that file changes.
pinned_venv() {
  local dir="$1" requirements="$2"
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/requirements.txt"
  fi
}

# free_port: a TCP port nothing listens on right now, on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu_ticks PID...: utime + stime of the processes, in clock ticks (/proc; getconf CLK_TCK a
# second). A process that is gone counts nothing.
cpu_ticks() {
  local sum=0 pid f
  for pid in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
    sum=$((sum + ${f% *} + ${f#* }))
  done
  echo "$sum"
}

# pg_backends URL: the pids of the PostgreSQL server's processes (children of its postmaster).
pg_backends() {
  local pm
  pm=$(head -1 "$(psql "$1" -Atc 'SHOW data_directory')/postmaster.pid" 2>/dev/null) || return 0
  pgrep -P "$pm" || true
}

# start_scimd BIN DB_URL OUT: starts scimd on a free port of 127.0.0.1 (no rate limit, no expiry
# sweep) and sets SCIMD_PID, SCIMD_PORT and SCIMD_KEY (the SCIM key its first start prints).
start_scimd() {
  SCIMD_PORT=$(free_port)
  SCIMD_DATABASE_URL=$2 SCIMD_LISTEN=127.0.0.1:$SCIMD_PORT SCIMD_LOG=warn \
    SCIMD_RATE_LIMIT_PER_SECOND=0 SCIMD_EXPIRY_INTERVAL=0 "$1/scimd" >"$3" 2>&1 &
  SCIMD_PID=$!
  for _ in $(seq 200); do grep -q 'scimd_scim_' "$3" && break; sleep 0.1; done
  SCIMD_KEY=$(grep -o 'scimd_scim_[A-Za-z0-9]*' "$3" | head -1)
  [ -n "$SCIMD_KEY" ] || { cat "$3" >&2; return 1; }
}

# seed_users BACKEND TARGET TEMPLATE N: N copies of user TEMPLATE (made through the API) with ids
# (UUIDs), userNames (userI@example.com) and externalIds (ext-I) of their own, by SQL: seconds
# where the API would take minutes at 1M. TARGET is the SQLite file or the PostgreSQL URL. The
# triggers that keep the tenant's counts run for these rows as for any.
seed_users() {
  local backend=$1 target=$2 template=$3 n=$4
  case $backend in
    sqlite)
      sqlite3 "$target" "PRAGMA busy_timeout = 10000;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
        INSERT INTO users SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
          tenant_id, 'user' || i || '@example.com', 'user' || i || '@example.com', 'ext-' || i,
          display_name, active, json_set(attributes, '\$.userName', 'user' || i || '@example.com', '\$.externalId', 'ext-' || i),
          version, created_at, last_modified
        FROM users, n WHERE id = '$template';" >/dev/null ;;
    postgres)
      psql "$target" -qc "INSERT INTO users SELECT gen_random_uuid()::text, tenant_id, 'user' || i || '@example.com', 'user' || i || '@example.com', 'ext-' || i,
          display_name, active, attributes || jsonb_build_object('userName', 'user' || i || '@example.com', 'externalId', 'ext-' || i),
          version, created_at, last_modified
        FROM users, generate_series(1, $n) AS i WHERE id = '$template'" >/dev/null ;;
  esac
}

# fresh_database BACKEND WORK PG_URL NAME: an empty database for one run; sets DB_URL (for
# scimd), DB_TARGET (for seed_users) and, on PostgreSQL, DB (to drop afterwards).
fresh_database() {
  case $1 in
    sqlite)
      rm -f "$2/$4.db"*
      DB_URL="sqlite://$2/$4.db?mode=rwc"; DB_TARGET="$2/$4.db" ;;
    postgres)
      DB="$4"
      psql "$3" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
      psql "$3" -qc "CREATE DATABASE $DB" >/dev/null
      DB_URL="${3%/*}/$DB"; DB_TARGET=$DB_URL ;;
  esac
}
