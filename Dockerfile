# syntax=docker/dockerfile:1
# One image holds every crmstream binary; each service runs its own
# (docker-compose.yml and deploy/k8s set the command).
#
#   docker build -t crmstream .
#   docker run --rm crmstream /usr/local/bin/ingest --help

# ---- build ----
FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is cached until go.mod/go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# Static binaries (no cgo): the runtime image has no libc.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/ ./cmd/...

# ---- runtime ----
# distroless/static: CA certificates, tzdata and /etc/passwd with the
# nonroot user (65532), nothing else — no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# ingest 8081, dashboard-api 8080, scorer 8082, notifier 8083
EXPOSE 8080 8081 8082 8083
ENTRYPOINT []
CMD ["/usr/local/bin/ingest"]
