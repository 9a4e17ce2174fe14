#!/usr/bin/env bash
# connect-hint.sh waits for the agent `make run` started to finish its first
# pass, then says how to log in to the servers it brought up. It only reads the
# agent's status; it never changes anything.
set -uo pipefail
bin=${1:-bin/lucid-rdp}
ready=
for _ in $(seq 1 60); do
	if "$bin" status -json 2>/dev/null | grep -q '"ready": true'; then
		ready=1
		break
	fi
	sleep 0.5
done
if [ -z "$ready" ]; then
	echo "lucid-rdp: the agent did not become ready within 30 s; read its log above (lucid-rdp status says more)." >&2
	exit 1
fi
cat <<'TEXT'

------------------------------------------------------------------------------
lucid-rdp is up. Connect an RDP client (xfreerdp, Remmina, Microsoft Remote
Desktop) to a server below and log in with an account of this host: you get an
Xfce desktop of your own. No account yet? As root: adduser NAME
Docker servers take the accounts of their users_file instead (see README).
From this machine:  xfreerdp /v:127.0.0.1:13389 /u:NAME /cert:ignore
Login fails? Read the server's log: .lucid-rdp/servers/SERVER/xrdp-sesman.log
("max concurrent session limit exceeded" = sessions.max; "pam_authenticate
failed" = wrong account or password).
------------------------------------------------------------------------------
TEXT
"$bin" status 2>/dev/null
