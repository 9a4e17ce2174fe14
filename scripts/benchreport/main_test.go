package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkMakePlan/servers=10000-2         	      13	  85000000 ns/op	 52428800 B/op	  120000 allocs/op
BenchmarkVsDockerCompose 	       1	13005938141 ns/op	         0.6200 converge-ratio	      6200 lucid-converge-ms	      8000 lucid-bridge-converge-ms	      0.8 bridge-converge-ratio	       120.0 lucid-noop-ms	      10000 compose-converge-ms	      1000 compose-noop-ms	         0.1200 noop-ratio
BenchmarkAgent 	       1	1 ns/op	        40.0 kill9-restore-ms	 250.0 supervisord-kill9-restore-ms	 0.16 kill9-ratio	 61.0 edit-converge-ms	 0.2 idle-cpu-percent	 24.5 idle-rss-MiB
`

// TestReport: figures come from the benchmark lines, goals are judged, and a
// benchmark that did not run is said to be not measured.
func TestReport(t *testing.T) {
	rs := rows(parse(strings.NewReader(sample)))
	var buf bytes.Buffer
	table(&buf, rs)
	out := buf.String()
	for _, want := range []string{
		"| converge 20 containers, network = \"host\" | 6200.0 ms | docker-compose up -d 10000.0 ms | 0.62 | ratio <= 0.4 | **missed** |",
		"| converge 20 containers, network = \"bridge\" (the default) | 8000.0 ms | docker-compose up -d 10000.0 ms | 0.80 | - | met |",
		"| no-op, 20 containers | 120.0 ms | docker-compose up -d 1000.0 ms | 0.12 | ratio <= 0.25 | met |",
		"| kill -9 -> answering again | 40.0 ms | supervisord autorestart 250.0 ms | 0.16 | <= 100 ms | met |",
		"| planner, 10000 servers | 85.00 ms, 50.0 MiB, 120000 allocs |  |  | <= 100 ms, <= 100 MiB | met |",
		"| converge 20 process servers | not measured (skipped) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	svg(&buf, rs)
	if !strings.Contains(buf.String(), "converge 20 containers") || !strings.Contains(buf.String(), "#c33") {
		t.Errorf("plot lacks the missed container ratio:\n%s", buf.String())
	}
}
