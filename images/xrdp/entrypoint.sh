#!/bin/sh
# Entrypoint of lucid-rdp's xrdp image: accounts, then sesman in the background
# and the xrdp listener as a child that can be drained (see the end).
#
# Accounts: lucid-rdp mounts a server's users_file read-only at
# /etc/lucid-rdp/users: `name:HASH` lines (crypt(3) hashes, as `chpasswd -e`
# reads them), blank lines and `#` comments. At each start every account is made
# if missing, with home /home/NAME and shell /bin/bash, and given its hash. /home
# outlives the container (a volume or a host folder), so an account whose home is
# already there takes that folder's owner uid and gid: its files stay its own
# across replaces, whatever the order of the file. Accounts of the image itself
# (uid below 1000, root among them) are never touched. Hashes are never printed
# and never put on a command line: they go to chpasswd through a pipe.
#
# lucid-rdp bind-mounts its rendered /etc/xrdp/xrdp.ini and sesman.ini over the
# image's own. A container that was stopped hard leaves pid files behind, and
# xrdp refuses to start while they exist, so they go first.
set -eu
# As the container's first process this shell ignores signals it has no trap
# for: until the listener's traps are set below, a stop ends it at once.
trap 'exit 143' TERM INT
# No globbing: account names from the users file are split into words below,
# and a name such as "b*" must never match files.
set -f

users=/etc/lucid-rdp/users

say() { echo "lucid-rdp-xrdp-entrypoint: $*" >&2; }

# entries prints the users file without blank lines and comments.
entries() { grep -v -E '^[[:space:]]*(#|$)' "$users" || true; }

# taken_by_home reports whether a folder in /home belongs to uid $1.
taken_by_home() {
	set +f # the one place that globs
	for d in /home/*/; do
		if [ -d "$d" ] && [ "$(stat -c %u "$d")" = "$1" ]; then
			set -f
			return 0
		fi
	done
	set -f
	return 1
}

# fresh_id prints the lowest id from 1000 up that no account, group or folder
# in /home uses: a new account never takes the uid of a home that another
# account, later in the file, will claim.
fresh_id() {
	id=1000
	while getent passwd "$id" >/dev/null || getent group "$id" >/dev/null || taken_by_home "$id"; do
		id=$((id + 1))
	done
	echo "$id"
}

# add_account makes account $1 unless it exists; it fails (and says why) for
# an account it must not touch or cannot make.
add_account() {
	name=$1
	home=/home/$name
	if uid=$(id -u "$name" 2>/dev/null); then
		if [ "$uid" -lt 1000 ] || [ "$uid" -gt 59999 ]; then # nobody is 65534
			say "$name is a system account of this image; it is left as it is and gets no password"
			return 1
		fi
		return 0 # made at an earlier start of this container
	fi
	if getent group "$name" >/dev/null; then
		say "$name: the image has a group of that name; choose another account name"
		return 1
	fi
	if [ -d "$home" ]; then
		uid=$(stat -c %u "$home")
		gid=$(stat -c %g "$home")
		if [ "$uid" -ge 1000 ] && ! getent passwd "$uid" >/dev/null; then
			if ! getent group "$gid" >/dev/null; then
				groupadd -g "$gid" "$name" || return 1
			fi
			useradd -u "$uid" -g "$gid" -d "$home" -M -s /bin/bash "$name" || return 1
			return 0
		fi
		say "$home belongs to uid $uid, which is not free for $name; $name gets a new uid and that folder"
	fi
	id=$(fresh_id)
	groupadd -g "$id" "$name" || return 1
	if [ -d "$home" ]; then
		useradd -u "$id" -g "$id" -d "$home" -M -s /bin/bash "$name" || return 1
		chown "$id:$id" "$home" || return 1
	else
		useradd -u "$id" -g "$id" -d "$home" -m -s /bin/bash "$name" || return 1
	fi
}

if [ -f "$users" ]; then
	ok=""
	# Names are read as the hashes are below (the line up to its first colon),
	# never split on spaces.
	while IFS=: read -r name _; do
		case $name in
		[a-z_]*) ;;
		*)
			say "skipping ${name}: not a valid account name"
			continue
			;;
		esac
		case $name in *[!a-z0-9_-]*)
			say "skipping ${name}: not a valid account name"
			continue
			;;
		esac
		if add_account "$name"; then
			ok="$ok $name "
		fi
	done <<ENTRIES
$(entries)
ENTRIES
	# The hashes of the accounts made above, and only of those, through a pipe
	# (printf is the shell's own: no hash is ever an argument of a process).
	entries | while IFS=: read -r name hash; do
		case $ok in *" $name "*) printf '%s:%s\n' "$name" "$hash" ;; esac
	done | chpasswd -e
	# shellcheck disable=SC2086 # $ok is words: let them collapse to one line
	set -- $ok
	say "accounts: ${*:-none}"
fi

rm -f /run/xrdp/xrdp.pid /run/xrdp/xrdp-sesman.pid /var/run/xrdp/xrdp.pid /var/run/xrdp/xrdp-sesman.pid
mkdir -p /run/xrdp/sockdir
chmod 3777 /run/xrdp/sockdir
# Nothing runs in here yet: every X display lock and socket is one that an X
# server killed hard left behind when the container last stopped, and sesman
# would take that display for one in use.
find /tmp -maxdepth 1 -name '.X*-lock' -type f -delete 2>/dev/null || true
find /tmp/.X11-unix -mindepth 1 -maxdepth 1 -name 'X*' -delete 2>/dev/null || true

# sesman and the listener run as this shell's children, not in its place.
#
# The listener can stop while its connections (the live sessions) and the
# container go on: that is how lucid-rdp drains a server. SIGUSR1 drains (the
# listener stops and is not started again), SIGUSR2 undrains (a listener
# starts again), SIGTERM and SIGINT stop the listener and end the container. A
# listener that dies unasked ends the container too, and lucid-rdp starts it
# again.
#
# A sesman that dies (the OOM killer, a crash) is started again, a second
# later (up to 30 s later while it keeps dying within a minute of its start),
# without touching the sessions: they outlive it. The new sesman
# knows nothing of them, so a user who disconnects from one cannot reconnect
# to it; lucid-rdp's agent ends such a session once it is disconnected.
set +e # wait returns non-zero when a signal interrupts it
sesman=
sesman_at=0   # when it was last started, in seconds since the epoch
sesman_wait=1 # how long to wait before starting it again
start_sesman() {
	rm -f /run/xrdp/xrdp-sesman.pid
	xrdp-sesman --nodaemon &
	sesman=$!
	sesman_at=$(date +%s)
}
start_sesman
# A child's exit interrupts the wait below, so the loop sees sesman go.
trap ':' CHLD
listener=
draining= # set by SIGUSR1, cleared by SIGUSR2
stopped=  # the listener was stopped on purpose: its exit is no crash
start_listener() {
	rm -f /run/xrdp/xrdp.pid
	xrdp --nodaemon &
	listener=$!
	stopped=
}
alive() { [ -n "$listener" ] && kill -0 "$listener" 2>/dev/null; }
trap 'draining=1; stopped=1; [ -n "$listener" ] && kill -TERM "$listener" 2>/dev/null; say "draining: no new sessions"' USR1
trap 'draining=; say "taking new sessions"' USR2
trap 'stopped=1; [ -n "$listener" ] && kill -TERM "$listener" 2>/dev/null; exit 0' TERM INT
start_listener
# The loop alone starts listeners: a SIGUSR2 that comes while a drained
# listener is still stopping is seen once it has gone, and a new one starts.
while :; do
	if ! kill -0 "$sesman" 2>/dev/null; then
		if [ $(($(date +%s) - sesman_at)) -ge 60 ]; then
			sesman_wait=1
		fi
		say "xrdp-sesman exited; starting it again in ${sesman_wait}s (sessions go on)"
		sleep "$sesman_wait" &
		pause=$!
		while kill -0 "$pause" 2>/dev/null; do
			wait "$pause" # another child's exit interrupts it
		done
		start_sesman
		sesman_wait=$((sesman_wait * 2))
		if [ "$sesman_wait" -gt 30 ]; then
			sesman_wait=30
		fi
		# Look again in a second: one that dies at once could do so before
		# the wait below begins, and its exit would not interrupt it.
		sleep 1 &
		pause=$!
		while kill -0 "$pause" 2>/dev/null; do
			wait "$pause"
		done
		continue
	fi
	if alive; then
		# A SIGUSR1 that came while a listener was starting found no pid to
		# stop: the loop stops it.
		if [ -n "$draining" ] && [ -z "$stopped" ]; then
			stopped=1
			kill -TERM "$listener" 2>/dev/null
		fi
		wait "$listener"
		continue
	fi
	listener=
	if [ -n "$draining" ]; then
		sleep 1 &
		wait $!
	elif [ -n "$stopped" ]; then
		start_listener
	else
		say "xrdp exited"
		exit 1
	fi
done
