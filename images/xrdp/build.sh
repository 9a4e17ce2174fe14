#!/usr/bin/env bash
# build.sh builds lucid-rdp's xrdp image from Debian's packages, with no
# container registry: debootstrap a minimal Debian with xrdp and xorgxrdp, add
# the entrypoint, and `docker import` the result.
#
#   images/xrdp/build.sh [TAG]      makes lucid/xrdp:TAG (default: bookworm)
#
# The Debian mirror is the one this host's apt uses (override with
# DEBIAN_MIRROR=URL). Needs root, debootstrap and a running Docker Engine.
set -euo pipefail
cd "$(dirname "$0")"

tag=${1:-bookworm}
image="lucid/xrdp:${tag}"
suite=${DEBIAN_SUITE:-bookworm}

mirror=${DEBIAN_MIRROR:-}
if [[ -z "$mirror" ]]; then
	# The first "URIs:" of a deb822 source, else the first "deb" line.
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
	mirror=$(awk '$1 == "deb" {print ($2 ~ /^\[/) ? $3 : $2; exit}' /etc/apt/sources.list)
fi
if [[ -z "$mirror" ]]; then
	echo "build.sh: no Debian mirror in this host's apt sources; set DEBIAN_MIRROR" >&2
	exit 1
fi

rootfs=$(mktemp -d /var/tmp/lucid-xrdp-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "build.sh: debootstrap ${suite} with xrdp into ${rootfs}"
debootstrap --variant=minbase --include=xrdp,xorgxrdp "$suite" "$rootfs" "$mirror" >/dev/null
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/lucid-rdp-xrdp-entrypoint"
# Nothing of this host's build belongs in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
	--change 'ENTRYPOINT ["/usr/local/bin/lucid-rdp-xrdp-entrypoint"]' \
	--change 'EXPOSE 3389/tcp' \
	--message "lucid-rdp xrdp image (${suite}, debootstrap)" \
	- "$image" >/dev/null
echo "build.sh: built ${image}"
