# The one PostgreSQL image of the compose deployment, for its three servers (source-db,
# target-db, dagster-db): the base image plus init scripts that run once, on an empty data
# volume. Baked in rather than bind-mounted so that it also works against a remote Docker host.
#   10-restrict-public.sh  every server: PUBLIC may not connect to, or create temporary tables
#                          in, any database, nor call the large-object functions
#   20-conektor-reader.sh  the server given CONEKTOR_READER_PASSWORD (source-db): the Conektor
#                          API's read-only role, from api_service/sql/reader_role.sql
# The base image is chosen by the operator (WIND_POSTGRES_IMAGE in .env, passed here by
# docker-compose.yml as POSTGRES_IMAGE); the default is the official image, pinned by tag and by
# digest (the multi-architecture index). Anything that keeps the official image's entrypoint
# (POSTGRES_USER/PASSWORD/DB, /docker-entrypoint-initdb.d) will do.
ARG POSTGRES_IMAGE=postgres:16.10-bookworm@sha256:38471f330eb885e04de130b768d6db4e10469e2311879c7e5c699f6d2d8a1c74
FROM ${POSTGRES_IMAGE}
COPY --chmod=0644 api_service/sql/reader_role.sql /opt/wind/reader_role.sql
COPY --chmod=0644 docker/postgres/restrict_public.sql /opt/wind/restrict_public.sql
COPY --chmod=0755 docker/postgres/10-restrict-public.sh docker/postgres/20-conektor-reader.sh /docker-entrypoint-initdb.d/
