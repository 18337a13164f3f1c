#!/bin/sh
# The platform's PostgreSQL entrypoint: the official image's env contract, without its root step.
#
# On first start (no PG_VERSION in $PGDATA) it initialises the cluster as the official
# docker-entrypoint.sh does: superuser $POSTGRES_USER (default postgres) with $POSTGRES_PASSWORD,
# database $POSTGRES_DB (default: the user's name), connections from anywhere with scram-sha-256.
# It runs as the image's user (uid 999) from the start: Kubernetes' runAsUser and a read-only root
# filesystem leave no room for the official image's chown-then-gosu step, and need none.
# Not supported: /docker-entrypoint-initdb.d scripts and POSTGRES_HOST_AUTH_METHOD=trust.
set -eu

if [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -z "${POSTGRES_PASSWORD:-}" ]; then
		echo "docker-entrypoint.sh: POSTGRES_PASSWORD is empty; the database is not initialised" >&2
		exit 1
	fi
	user="${POSTGRES_USER:-postgres}"
	db="${POSTGRES_DB:-$user}"
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA"
	pwfile="$(mktemp)"
	trap 'rm -f "$pwfile"' EXIT
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	# shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list, as in the official image
	initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
		--encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" ${POSTGRES_INITDB_ARGS:-}
	rm -f "$pwfile"
	printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	if [ "$db" != postgres ]; then
		# A server on the Unix socket only, as the official image's docker_temp_server_start.
		pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
		psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -v db="$db" <<-'SQL'
			CREATE DATABASE :"db";
		SQL
		pg_ctl -D "$PGDATA" -m fast -w stop
	fi
	echo "docker-entrypoint.sh: PostgreSQL init process complete; ready for start up."
fi

exec "$@"
