# The Source PostgreSQL: the pinned postgres image plus the init script that creates the
# Conektor's read-only role (run once, on an empty data volume). Baked in rather than
# bind-mounted so that it also works against a remote Docker host.
FROM postgres:16.10-bookworm@sha256:38471f330eb885e04de130b768d6db4e10469e2311879c7e5c699f6d2d8a1c74
COPY --chmod=0644 api_service/sql/reader_role.sql /opt/wind/reader_role.sql
COPY --chmod=0755 docker/source-db/10-conektor-reader.sh /docker-entrypoint-initdb.d/
