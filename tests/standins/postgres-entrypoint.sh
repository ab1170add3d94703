#!/bin/sh
# Stand-in for the postgres image's entrypoint (tests/containers.py): on the first start a
# superuser and a database from POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, password
# logins from other hosts; then the server. Any other command runs as it is.
set -e
export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
[ "$1" = postgres ] || exec "$@"
shift
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    printf '%s' "$POSTGRES_PASSWORD" > /tmp/pwfile
    chown postgres /tmp/pwfile
    runuser -u postgres -- initdb -U "$user" --pwfile=/tmp/pwfile --auth-local=trust \
        --auth-host=scram-sha-256 -D "$PGDATA" > /dev/null
    rm /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\"" \
            | runuser -u postgres -- postgres --single -D "$PGDATA" postgres > /dev/null
    fi
fi
exec runuser -u postgres -- postgres -D "$PGDATA" -c listen_addresses='*' "$@"
