# syntax=docker/dockerfile:1
#
# jobwait: one static binary on a distroless base.
#
#   docker build -t jobwait .
#   docker build --build-arg VERSION=v1.4.0 --build-arg REVISION=$(git rev-parse HEAD) -t jobwait .
#   docker run --rm -p 8080:8080 jobwait                 # embedded store, demo mode
#   docker run --rm -p 8080:8080 -e REDIS_URL=redis://host:6379/0 jobwait
#
# docker-compose.yml runs it next to Redis (and, with --profile scale, three
# replicas behind nginx on a Redis Cluster).

FROM golang:1.26 AS build
WORKDIR /src

# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
# What -version and jobwait_build_info say. The context leaves .git out
# (.dockerignore), so go build stamps no revision: without these arguments
# the image says "(devel)" and "unknown", never a revision it cannot know.
ARG VERSION=
ARG REVISION=
# CGO_ENABLED=0: the runtime image has no libc. -trimpath keeps build paths out
# of the binary and its panics.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
    -o /out/jobwait ./cmd/jobwait

# static: no shell, no package manager, CA certificates and tzdata included
# (rediss:// needs the former). nonroot: uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/jobwait /jobwait

# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532

# The healthcheck below reads the same variable to find the listener.
ENV JOBWAIT_ADDR=:8080
EXPOSE 8080

# Exec form: there is no shell in this image. `jobwait -healthcheck` GETs
# /healthz on 127.0.0.1 at $JOBWAIT_ADDR's port and exits 0 or 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/jobwait", "-healthcheck"]

ENTRYPOINT ["/jobwait"]
