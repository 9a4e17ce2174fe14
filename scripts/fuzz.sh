#!/usr/bin/env bash
# fuzz.sh [TIME]: runs every fuzz target of the module (each Fuzz function
# in a test file) for TIME (default 30s; any -fuzztime: 2s, 5m, 100000x), one
# after the other with FUZZ_PARALLEL workers (default 1, so that the machine
# stays usable). It prints a line per target and exits 1 if any failed.
# FUZZ_RUN, a regular expression, picks the targets whose names it matches.
#
# A failing input is written by go test under its package's testdata/fuzz/
# NAME/, which this script names; from then on it is a seed that every
# `go test ./...` runs, until the bug is fixed or the file removed. Replay
# it with `go test -run=NAME/FILE -v ./PKG`.
set -uo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
fuzztime=${1:-30s}
parallel=${FUZZ_PARALLEL:-1}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# go test's own -timeout (10m by default) must outlast a long fuzztime.
timeout=()
if [[ $fuzztime =~ ^([0-9]+)([smh])$ ]]; then
	secs=${BASH_REMATCH[1]}
	case ${BASH_REMATCH[2]} in m) secs=$((secs * 60)) ;; h) secs=$((secs * 3600)) ;; esac
	timeout=(-timeout="$((secs + 600))s")
fi

# The packages with a Fuzz function in a test file. Only those are listed
# with go test -list, which builds and runs a package's test binary (the
# integration tests' TestMain would build lucid-rdp for nothing).
listing=$($GO list -f '{{.ImportPath}} {{.Dir}} {{join .TestGoFiles " "}} {{join .XTestGoFiles " "}}' ./...) || exit 1
pkgs=()
while read -r pkg dir files; do
	for f in $files; do
		if grep -q '^func Fuzz[A-Z0-9_]' "$dir/$f"; then
			pkgs+=("$pkg $dir")
			break
		fi
	done
done <<<"$listing"
if ((${#pkgs[@]} == 0)); then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

module=$($GO list -m)
start=$SECONDS
ran=0 failed=0
for entry in "${pkgs[@]}"; do
	pkg=${entry%% *} dir=${entry#* }
	short=${pkg#"$module"/}
	if ! names=$($GO test -list '^Fuzz' "$pkg" 2>&1); then
		printf 'FAIL  %-22s %-20s does not build:\n%s\n' "(all)" "$short" "$names"
		failed=$((failed + 1))
		continue
	fi
	for name in $(grep '^Fuzz' <<<"$names" | grep -E -- "${FUZZ_RUN:-.}"); do
		ran=$((ran + 1))
		log=$logs/$name.log
		t0=$SECONDS
		$GO test -run='^$' -fuzz="^$name\$" -fuzztime="$fuzztime" -parallel="$parallel" "${timeout[@]}" "$pkg" >"$log" 2>&1
		rc=$?
		took=$((SECONDS - t0))s
		last=$(grep '^fuzz: elapsed' "$log" | tail -1)
		if [[ $last =~ execs:\ ([0-9]+).*new\ interesting:\ ([0-9]+) ]]; then
			what="${BASH_REMATCH[1]} execs, ${BASH_REMATCH[2]} new inputs"
		elif [[ $last =~ baseline\ coverage:\ ([0-9]+/[0-9]+) ]]; then
			what="only ${BASH_REMATCH[1]} seeds replayed: TIME ran out before any new input"
		else
			what="no progress reported"
		fi
		# What the log says besides progress and the end of a run: a
		# finding, a failing seed, a build error.
		said=$(grep -vE "^(fuzz: elapsed: |warning: starting with empty corpus|--- FAIL: $name \([0-9.]+s\)$|    context deadline exceeded$|FAIL$|PASS$|exit status [0-9]+$|(FAIL|ok)[[:space:]]+$pkg[[:space:]])" "$log")
		if ((rc == 0)); then
			printf 'ok    %-22s %-20s %5s  %s\n' "$name" "$short" "$took" "$what"
		elif [[ -z $said ]] && grep -q '^    context deadline exceeded$' "$log"; then
			# Go's fuzzing coordinator can fail a run that found nothing as
			# its fuzztime ends (golang/go#75804, fixed in Go 1.27): no
			# input failed, nothing was written.
			printf 'ok    %-22s %-20s %5s  %s (go test failed it at its fuzztime: golang/go#75804, no input failed)\n' "$name" "$short" "$took" "$what"
		else
			failed=$((failed + 1))
			input=$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p; s/.*failure while testing seed corpus entry: ([^ ]+\/[^ ]+).*/testdata\/fuzz\/\1/p' "$log" | head -1)
			where="no input written (see the output above)"
			if [[ $input == */seed#* ]]; then
				where="a seed of the test itself fails: ${input#testdata/fuzz/} (replay: go test -run=$name -v ./$short)"
			elif [[ -n $input ]]; then
				where="failing input: $short/$input (replay: go test -run=$name/${input##*/} -v ./$short)"
			fi
			grep -vE '^fuzz: elapsed: ' "$log" | sed 's/^/    /'
			printf 'FAIL  %-22s %-20s %5s  %s\n' "$name" "$short" "$took" "$where"
		fi
	done
done

if ((ran == 0 && failed == 0)); then
	echo "fuzz: no fuzz target's name matches FUZZ_RUN=${FUZZ_RUN:-}" >&2
	exit 1
fi
printf 'fuzz: %d targets, %s each, %d failed, in %ds\n' "$ran" "$fuzztime" "$failed" "$((SECONDS - start))"
if ((failed > 0)); then
	echo "fuzz: each failing input stays in its package's testdata/fuzz/NAME/, a seed that go test runs, until it is fixed or removed" >&2
	exit 1
fi
