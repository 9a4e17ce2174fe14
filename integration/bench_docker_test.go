package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
)

// BenchmarkVsDockerCompose brings 20 containers of one image up from nothing,
// and answers a no-op, with lucid-rdp and with docker-compose (Debian's
// 1.29.2, ports published as compose files usually do) in the same run, and
// reports medians and ratios. lucid-rdp runs twice: with network = "host"
// (its fast choice, no bridge and no userland proxy per container) and with
// the default, a network of the container's own, like compose's. `make bench`.
func BenchmarkVsDockerCompose(b *testing.B) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		b.Skip("docker-compose is not installed (scripts/setup.sh bench)")
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	cli := needDocker(b)
	defer cli.Close()

	const rounds = 3
	dir := b.TempDir()
	var yml strings.Builder
	yml.WriteString("version: \"3\"\nservices:\n")
	var composePorts, ourPorts []int
	for i := 0; i < benchServers; i++ {
		composePorts = append(composePorts, 23600+i)
		ourPorts = append(ourPorts, 23700+i)
		fmt.Fprintf(&yml, "  k%d:\n    image: %s\n    ports:\n      - \"127.0.0.1:%d:3389\"\n", i, responderImage, 23600+i)
	}
	composeFile := filepath.Join(dir, "docker-compose.yml")
	if err := os.WriteFile(composeFile, []byte(yml.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	compose := func(args ...string) time.Duration {
		return timed(b, "docker-compose", append([]string{"-f", composeFile, "-p", "lucidbench"}, args...)...)
	}
	specFile := filepath.Join(dir, "lucid-rdp.hcl")
	writeSpec := func(count int, network string) {
		src := fmt.Sprintf("agent {\n  state_dir   = %q\n  parallelism = 20\n}\n\nport_range \"bench\" {\n  from = 23700\n  to   = 23799\n}\n", filepath.Join(dir, "state"))
		if count > 0 {
			src += fmt.Sprintf("\nserver \"dbench\" {\n  driver     = \"docker\"\n  image      = %q\n  network    = %q\n  port_range = \"bench\"\n  count      = %d\n}\n", responderImage, network, count)
		}
		if err := os.WriteFile(specFile, []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	lucid := func(args ...string) time.Duration {
		return timed(b, bin, append(args, "-config", specFile)...)
	}
	defer func() {
		_ = exec.Command("docker-compose", "-f", composeFile, "-p", "lucidbench", "down", "-t", "1").Run()
		writeSpec(0, "")
		_ = exec.Command(bin, "apply", "-auto-approve", "-config", specFile).Run()
		// lucid-rdp keeps every home; the bench's are the bench's to remove.
		if id, err := os.ReadFile(filepath.Join(dir, "state", docker.DeploymentFile)); err == nil {
			removeHomes(b, cli, strings.TrimSpace(string(id)))
		}
	}()

	var cUp, cNoop, lUp, lNoop, bUp []time.Duration
	lucidRound := func(network string) (up, noop time.Duration) {
		writeSpec(benchServers, network)
		up = lucid("apply", "-auto-approve") // returns once all answer RDP
		allUp(b, ourPorts)
		noop = lucid("apply", "-auto-approve")
		writeSpec(0, "")
		lucid("apply", "-auto-approve")
		return up, noop
	}
	for i := 0; i < rounds; i++ {
		start := time.Now()
		compose("up", "-d")
		allUp(b, composePorts)
		cUp = append(cUp, time.Since(start))
		cNoop = append(cNoop, compose("up", "-d"))
		compose("down", "-t", "1")

		up, noop := lucidRound("host")
		lUp, lNoop = append(lUp, up), append(lNoop, noop)
		up, _ = lucidRound("bridge")
		bUp = append(bUp, up)
	}
	up, noop, bu, cu, cn := median(lUp), median(lNoop), median(bUp), median(cUp), median(cNoop)
	b.ReportMetric(ms(up), "lucid-converge-ms")
	b.ReportMetric(ms(cu), "compose-converge-ms")
	b.ReportMetric(ms(up)/ms(cu), "converge-ratio")
	b.ReportMetric(ms(bu), "lucid-bridge-converge-ms")
	b.ReportMetric(ms(bu)/ms(cu), "bridge-converge-ratio")
	b.ReportMetric(ms(noop), "lucid-noop-ms")
	b.ReportMetric(ms(cn), "compose-noop-ms")
	b.ReportMetric(ms(noop)/ms(cn), "noop-ratio")
	fmt.Printf("\n%d containers of one image, median of %d rounds (ratio = lucid-rdp / docker-compose, lower is better)\n", benchServers, rounds)
	fmt.Printf("  up from nothing, network = \"host\":   lucid-rdp apply %7.1f ms   docker-compose up -d %7.1f ms   ratio %.2f (target <= 0.4)\n", ms(up), ms(cu), ms(up)/ms(cu))
	fmt.Printf("  up from nothing, network = \"bridge\": lucid-rdp apply %7.1f ms   docker-compose up -d %7.1f ms   ratio %.2f\n", ms(bu), ms(cu), ms(bu)/ms(cu))
	fmt.Printf("  no-op:                              lucid-rdp apply %7.1f ms   docker-compose up -d %7.1f ms   ratio %.2f (target <= 0.25)\n", ms(noop), ms(cn), ms(noop)/ms(cn))
}
