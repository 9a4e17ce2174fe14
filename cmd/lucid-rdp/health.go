package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/loopdial"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// healthTimeout bounds a whole `lucid-rdp health`: dial, request and answer.
// The agent answers /health within 100 ms whatever it is doing, so an agent
// that needs 2 s is not healthy. A variable for the tests.
var healthTimeout = 2 * time.Second

// runHealth asks a running agent's GET /health, for health checks that have
// no shell or curl (the image's HEALTHCHECK). /health needs no token.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	addr := fs.String("addr", agentURL(), "the agent's `URL` ($LUCID_RDP_ADDR)")
	help(fs, stderr, "health [-addr URL]",
		fmt.Sprintf("Asks the running agent's /health. Exit 0 when it answers 200 within %s; exit 1,\nwith the reason on one line, when it answers anything else or nothing. /health needs\nno token, so this works on any address; it is the image's HEALTHCHECK.", healthTimeout),
		"lucid-rdp health",
		"lucid-rdp health -addr http://127.0.0.1:9090",
		`HEALTHCHECK CMD ["/usr/local/bin/lucid-rdp", "health"]    # in a Dockerfile`)
	if _, code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	target := strings.TrimSuffix(*addr, "/") + "/health"
	if err := checkHealth(target); err != nil {
		fmt.Fprintf(stderr, "lucid-rdp health: %s: %v\n", target, err)
		return exitError
	}
	fmt.Fprintf(stdout, "%s: ok\n", target)
	return exitOK
}

// agentURL is the agent's address when -addr names none: $LUCID_RDP_ADDR,
// else the default agent.listen.
func agentURL() string {
	if v := os.Getenv("LUCID_RDP_ADDR"); v != "" {
		return v
	}
	return "http://" + spec.DefaultListen
}

// checkHealth GETs target and returns why it is not a 200, in one line.
func checkHealth(target string) error {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DialContext: loopdial.Dial, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %s", healthTimeout)
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return errors.New("connection refused: no agent listens there (start one with `lucid-rdp agent`)")
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in the message already
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if line == "" {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return fmt.Errorf("answered %s: %s", resp.Status, line)
}
