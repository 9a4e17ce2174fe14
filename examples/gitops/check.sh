#!/usr/bin/env bash
# check.sh [DIR]: review a fleet spec folder before it is merged.
#
# 1. lucid-rdp fmt -check      every file is in canonical layout (a diff if not)
# 2. lucid-rdp validate        the folder is valid for every host it declares
# 3. lucid-rdp fleet plan      what each host's agent would change; nothing is changed
#
# DIR is the fleet folder, fleet/ by default. Environment:
#
#   LUCID_RDP  the lucid-rdp binary (default: lucid-rdp on PATH)
#   PLAN_JSON  when set, also write the plan as `fleet plan -json` to this file
#
# Exit 0 when every step passed, whether or not the plan has changes (it says
# which); non-zero when a file is not formatted, the folder is not valid, or
# any host could not be planned (no answer, a refused token, a refused spec).
#
# The plan asks every host's agent at its host block's address, with the token
# of its token_file, so run this where the agents can be reached, with the
# token files in place (see README.md beside this file).

set -euo pipefail

dir=${1:-fleet/}
lucid=${LUCID_RDP:-lucid-rdp}

if ! command -v "$lucid" >/dev/null 2>&1; then
	echo "check.sh: $lucid not found; put lucid-rdp on PATH or set LUCID_RDP" >&2
	exit 1
fi

# run prints a command, then runs it; its exit status is left in $rc.
run() {
	printf '\n$ %s\n' "$*"
	rc=0
	"$@" || rc=$?
}

run "$lucid" fmt -check -diff "$dir"
case $rc in
0) ;;
3)
	echo "check.sh: files above are not formatted; run: lucid-rdp fmt $dir" >&2
	exit 3
	;;
*)
	echo "check.sh: lucid-rdp fmt failed (exit $rc)" >&2
	exit "$rc"
	;;
esac

run "$lucid" validate "$dir"
if [ "$rc" -ne 0 ]; then
	echo "check.sh: $dir is not valid (exit $rc)" >&2
	exit "$rc"
fi

run "$lucid" fleet plan -config "$dir" -detailed-exitcode
plan=$rc
case $plan in
0 | 2) ;;
*)
	echo "check.sh: fleet plan failed (exit $plan): a host above could not be planned" >&2
	exit "$plan"
	;;
esac

if [ -n "${PLAN_JSON:-}" ]; then
	# A second ask of every agent: the JSON is what they answer now.
	rc=0
	"$lucid" fleet plan -config "$dir" -detailed-exitcode -json >"$PLAN_JSON" || rc=$?
	case $rc in
	0 | 2) echo "check.sh: wrote the plan as JSON to $PLAN_JSON" ;;
	*)
		echo "check.sh: fleet plan -json failed (exit $rc); see $PLAN_JSON" >&2
		exit "$rc"
		;;
	esac
fi

echo
if [ "$plan" -eq 2 ]; then
	echo "check.sh: OK, with changes: merging this changes the hosts above as planned."
else
	echo "check.sh: OK, no changes: every host already runs this spec."
fi
