#!/usr/bin/env bash
# bench.sh runs every benchmark of lucid-rdp against its peers in one run and
# writes one table: printed, and with a plot in docs/performance.md and
# docs/performance.svg. `make bench` runs it after installing the peers.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The planner (pure, in-process), then the host benchmarks (real xrdp,
# supervisord, docker-compose), each once: they repeat and take medians
# themselves.
go test -run='^$' -bench=BenchmarkMakePlan -benchmem -count=1 ./reconciler | tee -a "$out"
go test -run='^$' -bench=. -benchtime=1x -count=1 -timeout 60m ./integration | tee -a "$out"
echo
go run ./scripts/benchreport -in "$out" -md docs/performance.md -svg docs/performance.svg -cmd "make bench"
echo
echo "bench: the table and its plot are in docs/performance.md and docs/performance.svg"
