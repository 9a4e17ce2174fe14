# lucid-rdp: build, run, test, bench, fuzz, lint, release.
#
# A newcomer on a fresh Debian machine needs two commands:
#   make run    install what is missing, build, converge this host to ./lucid-rdp.hcl
#   make test   install what is missing, pass the whole suite

SHELL   := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

GO      ?= go
BIN     := bin/lucid-rdp
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME ?= 30s
CHAOSTIME ?= 5m

.PHONY: all setup setup-test build run test lint fuzz chaos bench release clean xrdp-image

all: build

# Install missing packages (apt, when root). Idempotent: cheap when all is there.
setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lucid-rdp

# Converge this host to the repository's lucid-rdp.hcl and keep it converged:
# the agent runs in the foreground and follows every edit of the file. Ctrl-C
# stops the agent; the xrdp servers keep running.
run: setup build
	$(BIN) validate lucid-rdp.hcl
	@scripts/connect-hint.sh $(BIN) &
	exec $(BIN) agent -config lucid-rdp.hcl

test: setup-test lint
	$(GO) test -count=1 -timeout 30m ./...
	GO=$(GO) scripts/fuzz.sh 2s

lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# lucid/xrdp:bookworm, a real xrdp image built from Debian's packages with no
# registry (debootstrap + docker import, about a minute). Needs root and dockerd.
xrdp-image: setup-test
	images/xrdp/build.sh bookworm

# Benchmarks against peers run in the same process tree; they print ratios.
bench: build
	@scripts/setup.sh bench
	scripts/bench.sh

# Every fuzz target for FUZZTIME each, one worker (FUZZ_PARALLEL=N for more).
fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

# Harm at random for CHAOSTIME (kill -9 of listeners, sesmans, containers and
# the agent mid-apply, engine restarts, broken specs, a full state folder)
# against 26 process and 12 docker servers and two desktop sessions, then
# checks that nothing was lost or doubled. make test runs a 40 s version.
chaos: setup-test
	CI=true LUCID_RDP_CHAOS=$(CHAOSTIME) $(GO) test -count=1 -run '^TestChaos$$' -v -timeout 30m ./integration

# Static binaries for linux/amd64 and linux/arm64 (Raspberry Pi 5) in DIST,
# stamped with VERSION and COMMIT, and their SHA256SUMS. `make test` runs the
# arm64 one under qemu-aarch64-static.
DIST ?= dist
release:
	@mkdir -p $(DIST)
	for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
			-o $(DIST)/lucid-rdp-linux-$$arch ./cmd/lucid-rdp || exit 1; \
	done
	cd $(DIST) && sha256sum lucid-rdp-linux-* > SHA256SUMS

clean:
	rm -rf bin dist
