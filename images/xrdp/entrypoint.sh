#!/bin/sh
# Entrypoint of lucid-rdp's xrdp image: sesman in the background, xrdp in front.
# lucid-rdp bind-mounts its rendered /etc/xrdp/xrdp.ini and sesman.ini over the
# image's own. A container that was stopped hard leaves pid files behind, and
# xrdp refuses to start while they exist, so they go first.
set -e
rm -f /run/xrdp/xrdp.pid /run/xrdp/xrdp-sesman.pid /var/run/xrdp/xrdp.pid /var/run/xrdp/xrdp-sesman.pid
mkdir -p /run/xrdp/sockdir
chmod 3777 /run/xrdp/sockdir
xrdp-sesman
exec xrdp --nodaemon
