# The lucid-rdp agent's own image: a static binary on a distroless, non-root
# base (user 65532), with a HEALTHCHECK that needs no shell. It needs
# BuildKit: Docker 23 and later use it; on Docker 20.10 (Debian 12's
# docker.io) set DOCKER_BUILDKIT=1, since its classic builder cannot read
# FROM --platform=$BUILDPLATFORM.
#
# Where a registry is reachable (the build downloads the modules):
#
#   DOCKER_BUILDKIT=1 docker build -t lucid/agent \
#     --build-arg VERSION=$(git describe --tags --always --dirty) \
#     --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# `--platform linux/arm64` (or linux/amd64,linux/arm64 with buildx)
# cross-compiles on the build machine's own platform, with no emulation.
#
# With no registry, images/agent/bases.sh makes both bases from this host's
# Go and files, and `go mod vendor` puts the modules in the context:
#
#   images/agent/bases.sh && go mod vendor
#   DOCKER_BUILDKIT=1 docker build --build-arg BUILDER=lucid/agent-build:local \
#     --build-arg RUNTIME=lucid/agent-runtime:local -t lucid/agent .
#
# Every RUN is exec form: neither base needs a shell. How to run the image:
# README.md, "Running the agent in a container".

ARG BUILDER=golang:1.26-bookworm
ARG RUNTIME=gcr.io/distroless/static-debian12:nonroot

FROM --platform=$BUILDPLATFORM ${BUILDER} AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
# As the Makefile builds it. Flags go through GOFLAGS because an exec-form
# RUN expands no variables; ENV does. With vendor/ in the context go build
# uses it and needs no network. The caches outlive the build, so a source
# edit recompiles only what it touched.
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    GOFLAGS="-trimpath '-ldflags=-s -w -X main.version=${VERSION} -X main.commit=${REVISION}'"
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=cache,target=/go/pkg/mod \
    ["go", "build", "-o", "/out/lucid-rdp", "./cmd/lucid-rdp"]

# The binary alone, for release files with no Go on the machine:
#   DOCKER_BUILDKIT=1 docker build --platform linux/arm64 --target binary --output dist .
FROM scratch AS binary
COPY --from=build /out/lucid-rdp /lucid-rdp

FROM ${RUNTIME}
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED
LABEL org.opencontainers.image.title="lucid-rdp agent" \
      org.opencontainers.image.description="Keeps a Linux host's xrdp servers as one HCL file says" \
      org.opencontainers.image.source="https://github.com/lucid-rdp/lucid-rdp" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/lucid-rdp /usr/local/bin/lucid-rdp
# distroless's nonroot, by number so that a runtime can check it is not root.
USER 65532:65532
# /health answers within 100 ms whatever the agent is doing; `health` waits
# 2 s. It asks $LUCID_RDP_ADDR, else http://127.0.0.1:8090 (agent.listen's
# default): set LUCID_RDP_ADDR when the spec listens elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/lucid-rdp", "health"]
ENTRYPOINT ["/usr/local/bin/lucid-rdp"]
CMD ["agent", "-config", "/etc/lucid-rdp/lucid-rdp.hcl"]
