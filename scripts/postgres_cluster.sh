#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and for trying the fleet by hand.
#
#   scripts/postgres_cluster.sh start DIR   creates DIR, initdb's a cluster in it and starts the
#                                           server on a Unix socket in DIR (no TCP); prints the
#                                           URL to pass as --db, e.g.
#                                           postgresql:///postgres?host=/tmp/pg&user=postgres
#   scripts/postgres_cluster.sh stop DIR    stops that server and removes DIR
#
# Debian's PostgreSQL (postgresql-15) is installed by scripts/bootstrap.sh. initdb refuses to
# run as root, so as root the cluster belongs to the `postgres` user the package created.
# Durability is off (fsync=off): the cluster lives as long as one test program.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
if [[ -z "$action" || -z "$dir" ]]; then
  echo "usage: $0 start|stop DIR" >&2
  exit 2
fi

bindir=""
for candidate in /usr/lib/postgresql/*/bin; do
  [[ -x "$candidate/initdb" ]] && bindir="$candidate"
done
if [[ -z "$bindir" ]]; then
  echo "postgres_cluster: no PostgreSQL server under /usr/lib/postgresql; run scripts/bootstrap.sh" >&2
  exit 1
fi

as_owner=()
if [[ "$(id -u)" -eq 0 ]]; then as_owner=(runuser -u postgres --); fi

case "$action" in
  start)
    mkdir -p "$dir"
    [[ ${#as_owner[@]} -eq 0 ]] || chown postgres: "$dir"
    "${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
      --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&user=postgres"
    ;;
  stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
      "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "postgres_cluster: unknown action '$action' (start or stop)" >&2
    exit 2
    ;;
esac
