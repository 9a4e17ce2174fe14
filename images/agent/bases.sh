#!/usr/bin/env bash
# bases.sh makes the two base images of the agent's Dockerfile (the
# repository's top-level one) with no container registry, from this host's
# files, for hosts and tests that cannot pull golang or distroless:
#
#   images/agent/bases.sh
#   go mod vendor     # the build then takes modules from vendor/, offline
#   DOCKER_BUILDKIT=1 docker build --build-arg BUILDER=lucid/agent-build:local \
#     --build-arg RUNTIME=lucid/agent-runtime:local -t lucid/agent .
#
# lucid/agent-build:local   this host's Go toolchain (`go env GOROOT`) at
#                           /usr/local/go, as in the golang images, without
#                           its test/ and api/ folders; /tmp; the host's CA
#                           certificates. No shell and no libc: Go's tools are
#                           static and every RUN of the Dockerfile is exec
#                           form, so neither is needed. That keeps this one
#                           `docker import` of a tar stream (4 s here), where
#                           a debootstrap for a shell and libc takes a minute.
# lucid/agent-runtime:local what distroless static-debian12:nonroot gives the
#                           agent: /etc/passwd and /etc/group with root,
#                           nobody and nonroot (65532), /tmp, the host's CA
#                           certificates, user 65532. Nothing else: no shell.
#
# Both are labelled io.lucid-rdp.base-source with a hash of this script and
# of the Go version (not io.lucid-rdp.image-source as images/xrdp is: an
# image built FROM a base inherits its labels, and this one names the base).
# Images with this script's label are left as they are (FORCE=1 makes them
# again); others are made again, and the image that had the tag is removed.
# BUILDER_TAG and RUNTIME_TAG set the tags. Needs Go and a Docker Engine.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

builder=${BUILDER_TAG:-lucid/agent-build:local}
runtime=${RUNTIME_TAG:-lucid/agent-runtime:local}
goroot=$(go env GOROOT)
certs=/etc/ssl/certs/ca-certificates.crt
if [[ ! -f "$certs" ]]; then
	echo "bases.sh: no CA certificates at $certs (Debian: apt-get install ca-certificates)" >&2
	exit 1
fi

source_hash=$(cat bases.sh "$goroot/VERSION" | sha256sum | cut -d' ' -f1)
label="io.lucid-rdp.base-source=sha256:${source_hash}"

# label_of prints the base-source label of image, or nothing when there is
# no such image.
label_of() {
	docker image inspect --format '{{index .Config.Labels "io.lucid-rdp.base-source"}}' "$1" 2>/dev/null || true
}

if [[ "${FORCE:-}" != 1 && "$(label_of "$builder")" == "sha256:${source_hash}" && "$(label_of "$runtime")" == "sha256:${source_hash}" ]]; then
	echo "bases.sh: ${builder} and ${runtime} are up to date"
	exit 0
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# import_image tags the tar on stdin as image ($1) with the changes that follow,
# then removes the image that had the tag before, if it is left untagged
# and unused (rmi refuses otherwise).
import_image() {
	local image=$1 old new
	shift
	old=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
	local changes=()
	for c in "$@" "LABEL ${label}"; do
		changes+=(--change "$c")
	done
	new=$(docker import "${changes[@]}" --message "lucid-rdp agent base (images/agent/bases.sh)" - "$image")
	if [[ -n "$old" && "$old" != "$new" ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
	echo "bases.sh: made ${image}"
}

# The files both bases share: /tmp and the CA certificates (the builder's
# `go mod download` needs them where the module proxy is reachable).
mkdir -p "$stage/tmp" "$stage/etc/ssl/certs"
chmod 1777 "$stage/tmp"
cp "$certs" "$stage/etc/ssl/certs/ca-certificates.crt"

# The builder: the toolchain at /usr/local/go, as in the golang images.
tar -c --numeric-owner --owner=0 --group=0 \
	-C "$stage" tmp etc \
	-C "$goroot" --anchored --exclude=./test --exclude=./api \
	--transform='s,^\.,usr/local/go,S' . |
	import_image "$builder" \
		'ENV PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'ENV GOPATH=/go' \
		'ENV HOME=/root' \
		'ENV GOTOOLCHAIN=local' \
		'WORKDIR /go'

# The runtime: distroless's accounts, and user 65532 as the default.
cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
EOF
chmod 0644 "$stage/etc/passwd" "$stage/etc/group"
tar -c --numeric-owner --owner=0 --group=0 -C "$stage" tmp etc |
	import_image "$runtime" 'USER 65532:65532'
