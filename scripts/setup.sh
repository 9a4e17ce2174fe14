#!/usr/bin/env bash
# setup.sh installs what lucid-rdp's build, run and tests need on a Debian host,
# and nothing that is already there. It is idempotent: run it as often as you like.
#
#   scripts/setup.sh            packages for `make run` (xrdp and a desktop)
#   scripts/setup.sh test       plus what the integration tests need
#   scripts/setup.sh bench      plus the peers the benchmarks compare against
#
# Only root can install packages. As another user it reports what is missing and
# carries on, so the tests that need a missing component can say so themselves.
set -euo pipefail

# xrdp and the X server it drives (xorgxrdp is only a recommendation of
# xrdp's, and we install without those), and a desktop for xrdp's startwm.sh
# to start: Xfce is 52 small packages (16 MiB) and needs no GPU; without a
# desktop a login shows a bare xterm on black. dbus-x11 gives the session its bus;
# xauth writes the session's cookie (only a recommendation of the X server's).
want=(xrdp xorgxrdp xauth xfce4 xfce4-terminal dbus-x11)
case "${1:-}" in
test)
	# A real RDP client under a virtual X server, a Docker Engine,
	# debootstrap for the xrdp image, openssl to make password hashes for
	# the test accounts, and xsetroot (x11-xserver-utils, which Xfce pulls in
	# anyway) to paint a known screen for the screenshot test; xdotool moves
	# a client's mouse, which is the input that keeps a session from idling.
	# prometheus-alertmanager is the real Alertmanager that reconciler/notify's
	# tests post alerts to (they start their own; installing starts none).
	# zsh checks the zsh completion script lucid-rdp prints.
	# prometheus ships promtool, which checks examples/prometheus; chromium
	# (headless) loads the agent's status page; qemu-user-static runs the
	# arm64 release binary on this amd64 host; shellcheck checks the GitOps
	# example's scripts. None of them starts a service.
	want+=(freerdp2-x11 xvfb docker.io debootstrap openssl x11-xserver-utils xdotool prometheus-alertmanager zsh
		prometheus chromium qemu-user-static shellcheck)
	;;
bench)
	want+=(supervisor docker-compose)
	;;
esac

missing=()
for p in "${want[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ! command -v go >/dev/null 2>&1 && [[ ! -x /usr/local/go/bin/go ]]; then
	echo "setup: Go is not installed; install Go 1.26 or later from https://go.dev/dl/" >&2
	exit 1
fi

# start_dockerd starts the Docker Engine when it is installed and none answers.
start_dockerd() {
	[[ "${1:-}" == "test" ]] || return 0
	command -v dockerd >/dev/null 2>&1 || return 0
	docker_up() { [[ -S /var/run/docker.sock ]] && timeout 5 docker version >/dev/null 2>&1; }
	docker_up && return 0
	if [[ $(id -u) -ne 0 ]]; then
		echo "setup: dockerd is not running (as root: scripts/setup.sh test starts it)" >&2
		return 0
	fi
	# A dockerd (or its containerd) that was killed leaves its pid file, and
	# dockerd will not start while the pid there looks alive: a zombie does,
	# on a host whose init does not reap. Drop pid files of dead processes only.
	local f pid state
	for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
		[[ -f $f ]] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		state=""
		if [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]]; then
			state=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
		fi
		if [[ -z $state || $state == Z ]]; then
			rm -f "$f"
		fi
	done
	echo "setup: starting dockerd (log: /var/log/lucid-rdp-dockerd.log)"
	setsid dockerd </dev/null >>/var/log/lucid-rdp-dockerd.log 2>&1 &
	for _ in $(seq 1 60); do
		docker_up && return 0
		sleep 0.5
	done
	echo "setup: dockerd did not answer within 30 s; see /var/log/lucid-rdp-dockerd.log" >&2
	return 1
}

if ((${#missing[@]} == 0)); then
	start_dockerd "${1:-}"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "setup: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
	exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing a package must not start its service: lucid-rdp runs xrdp itself,
# and a host-wide xrdp would take port 3389 and /run/xrdp/xrdp.pid.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=1
fi
trap '[[ $made_policy == 1 ]] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
start_dockerd "${1:-}"
