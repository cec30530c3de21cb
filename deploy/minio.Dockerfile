# MinIO built from source at the version the dev stack and the tests use
# (internal/devstack/tools.go). MinIO is AGPL-3.0; RemoteGPU talks to it only
# over the S3 API, as a separate, unmodified program. Any other S3-compatible
# store works too: point S3_ENDPOINT at it and drop this service.
FROM golang:1.26-bookworm AS build
RUN GOBIN=/out GOFLAGS=-mod=mod go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c

FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /out/minio /usr/local/bin/minio
EXPOSE 9000
ENTRYPOINT ["minio"]
