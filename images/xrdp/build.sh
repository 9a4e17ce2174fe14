#!/usr/bin/env bash
# build.sh builds lucid-rdp's xrdp image from Debian's packages, with no
# container registry: debootstrap a minimal Debian with xrdp, xorgxrdp and an
# xfce desktop, add the entrypoint, and `docker import` the result.
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

# What a login needs: xrdp and its Xorg backend, xauth (sesman writes the
# session's cookie with it), and a desktop: Debian's /etc/xrdp/startwm.sh runs
# /etc/X11/Xsession, whose x-session-manager is xfce4-session; dbus-x11 gives it
# a session bus. Recommends are not installed (debootstrap follows Depends).
# Keep the list in step with the Dockerfile.
packages=xrdp,xorgxrdp,xauth,xfce4,xfce4-terminal,dbus-x11

# The image is labelled with the hash of this script and the entrypoint, so a
# cached image of older sources can be told apart (the tests rebuild it then).
source_hash=$(cat build.sh entrypoint.sh | sha256sum | cut -d' ' -f1)

rootfs=$(mktemp -d /var/tmp/lucid-xrdp-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "build.sh: debootstrap ${suite} with ${packages} into ${rootfs}"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >/dev/null
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/lucid-rdp-xrdp-entrypoint"
# Nothing of this host's build belongs in the image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import \
	--change 'ENTRYPOINT ["/usr/local/bin/lucid-rdp-xrdp-entrypoint"]' \
	--change 'EXPOSE 3389/tcp' \
	--change 'LABEL io.lucid-rdp.desktop=xfce4' \
	--change 'LABEL io.lucid-rdp.drain=signals' \
	--change "LABEL io.lucid-rdp.image-source=sha256:${source_hash}" \
	--message "lucid-rdp xrdp image (${suite}, debootstrap)" \
	- "$image" >/dev/null
echo "build.sh: built ${image}"
