package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// The local bases images/agent/bases.sh makes (see the Dockerfile).
const (
	agentBuilderBase = "lucid/agent-build:local"
	agentRuntimeBase = "lucid/agent-runtime:local"
	// agentUID is the runtime base's user, distroless's nonroot.
	agentUID = 65532
)

// TestAgentImage: the top-level Dockerfile builds the agent's image with no
// registry and no network, from images/agent/bases.sh's bases and a
// vendor/ folder; the image is labelled with its version, revision and date,
// runs as a non-root user, has no shell, and checks its health with
// `lucid-rdp health` in exec form. The same Dockerfile cross-compiles an
// arm64 binary. Run as an agent, as its default user, with the least it
// needs (the host's network, the engine's socket and its group, the spec and
// state folders at their host paths), the image becomes healthy and
// converges two docker servers that answer RDP; stopping it leaves them
// running.
//
// What such a container cannot do (found by hand, against a real login): in
// a pid namespace of its own it sees no process of the server containers, so
// no sessions (a server with sessions would be replaced as if it had none),
// no sesman reload and no CPU or memory. The README's "Running the agent in
// a container" says what each of --pid host, root, CAP_SYS_ADMIN and
// CAP_SYS_PTRACE adds.
func TestAgentImage(t *testing.T) {
	h, cli := dockerHost(t)
	ctx := context.Background()
	bk := needBuildKit(t)
	need(t, "qemu-aarch64-static")

	t0 := time.Now()
	if out, err := exec.Command("../images/agent/bases.sh").CombinedOutput(); err != nil {
		t.Fatalf("images/agent/bases.sh: %v\n%s", err, out)
	}
	src := buildContext(t)
	t.Logf("bases and build context (with vendor/) in %s", time.Since(t0).Round(time.Millisecond))

	// The image, from the local bases, with no network.
	const version, revision = "v0.0.0-it", "0123456789abcdef0123456789abcdef01234567"
	created := time.Now().UTC().Format(time.RFC3339)
	tag := "lucid-rdp-test/agent:it-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	args := []string{"--network", "none",
		"--build-arg", "BUILDER=" + agentBuilderBase, "--build-arg", "RUNTIME=" + agentRuntimeBase,
		"--build-arg", "VERSION=" + version, "--build-arg", "REVISION=" + revision, "--build-arg", "CREATED=" + created}
	t0 = time.Now()
	bk.build(t, append(slices.Clone(args), "-t", tag, src)...)
	t.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			t.Errorf("remove %s: %v", tag, err)
		}
	})
	t.Logf("built %s in %s", tag, time.Since(t0).Round(time.Millisecond))

	in, err := cli.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg := in.Config
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.created":  created,
		"org.opencontainers.image.title":    "lucid-rdp agent",
		"org.opencontainers.image.source":   "https://github.com/lucid-rdp/lucid-rdp",
	} {
		if got := cfg.Labels[k]; got != want {
			t.Errorf("label %s = %q; want %q", k, got, want)
		}
	}
	if uid, _, _ := strings.Cut(cfg.User, ":"); uid != strconv.Itoa(agentUID) {
		t.Errorf("the image runs as user %q; want %d (non-root, by number)", cfg.User, agentUID)
	}
	if hc := cfg.Healthcheck; hc == nil || !slices.Equal(hc.Test, []string{"CMD", "/usr/local/bin/lucid-rdp", "health"}) {
		t.Errorf("healthcheck %+v; want exec form (CMD, no shell) of lucid-rdp health", hc)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/lucid-rdp"}) || !slices.Equal(cfg.Cmd, []string{"agent", "-config", "/etc/lucid-rdp/lucid-rdp.hcl"}) {
		t.Errorf("entrypoint %q, cmd %q", cfg.Entrypoint, cfg.Cmd)
	}
	checkImageFiles(t, cli, tag)

	// arm64 (a Raspberry Pi 5), cross-compiled by the build stage: no emulation.
	out := t.TempDir()
	t0 = time.Now()
	bk.build(t, append(slices.Clone(args), "--platform", "linux/arm64", "--target", "binary", "--output", "type=local,dest="+out, src)...)
	t.Logf("built the arm64 binary in %s", time.Since(t0).Round(time.Millisecond))
	arm := filepath.Join(out, "lucid-rdp")
	armFile, err := os.Open(arm)
	if err != nil {
		t.Fatalf("the arm64 build left no binary: %v", err)
	}
	defer armFile.Close()
	checkStaticELF(t, "the arm64 lucid-rdp", armFile, elf.EM_AARCH64)
	if got, err := exec.Command("qemu-aarch64-static", arm, "version").CombinedOutput(); err != nil ||
		!strings.Contains(string(got), "lucid-rdp "+version+" (commit "+revision) || !strings.Contains(string(got), "linux/arm64") {
		t.Errorf("qemu-aarch64-static lucid-rdp version: %v\n%s", err, got)
	}

	// The image as an agent, as its default user: the state folder is that
	// user's (lucid-rdp refuses one of another user's), and root's again
	// before the harness's cleanup applies an empty spec from the host.
	state := filepath.Join(h.dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	chownTree(t, state, agentUID)
	t.Cleanup(func() { chownTree(t, state, 0) })
	api := &runningAgent{url: "http://127.0.0.1:" + strconv.Itoa(h.base+19)}
	h.writeRaw(h.agentBlock(h.base+19, "") + h.expand(fmt.Sprintf(`
port_range "image" {
  from = PORT+0
  to   = PORT+9
}

server "agent-image" {
  driver     = "docker"
  image      = %q
  port_range = "image"
  count      = 2
}
`, responderImage)))
	agent := runAgentContainer(t, cli, tag, h.dir, filepath.Join(h.dir, "lucid-rdp.hcl"), api.url)

	t0 = time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		st := inspectState(t, cli, agent)
		if !st.Running {
			t.Fatalf("the agent's container stopped (exit %d)", st.ExitCode)
		}
		if st.Health != nil && st.Health.Status == container.Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent's container is not healthy 30s after it started: %+v", st.Health)
		}
	}
	waitFor(t, 30*time.Second, "both servers to answer RDP", func() bool { return probeOK(h.base) && probeOK(h.base+1) })
	t.Logf("healthy, and both servers answer RDP, %s after start", time.Since(t0).Round(time.Millisecond))
	if log := inspectState(t, cli, agent).Health.Log; len(log) == 0 || !strings.Contains(log[len(log)-1].Output, "/health: ok") {
		t.Errorf("health check log: %+v", log)
	}

	st := api.status(t)
	spec, _ := st["spec"].(map[string]any)
	if hash, _ := spec["hash"].(string); spec["path"] != filepath.Join(h.dir, "lucid-rdp.hcl") || hash == "" || spec["error"] != nil {
		t.Errorf("/v1/status spec: %v", st["spec"])
	}
	// A second pass looks at the sessions of the servers the first made.
	reload := &http.Client{Timeout: 60 * time.Second}
	if resp, err := reload.Post(api.url+"/v1/reload", "", nil); err != nil {
		t.Fatalf("POST /v1/reload: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/reload: %s\n%s", resp.Status, body)
		}
	}
	for i, name := range []string{"agent-image-1", "agent-image-2"} {
		s, ok := api.listed(t, "servers", name)
		if !ok || s["state"] != "up" || s["driver"] != "docker" || s["port"] != float64(h.base+i) {
			t.Errorf("/v1/status: %s = %v", name, s)
		}
		// In a pid namespace of its own the agent cannot see the servers'
		// sessions: it must say so, and change nothing under them, rather
		// than take them for servers with none.
		if last, _ := s["last_error"].(string); !strings.Contains(last, "--pid host") {
			t.Errorf("/v1/status: %s's last_error = %q; want the sessions named unseen (--pid host)", name, last)
		}
	}
	// The CLI in the image (no shell: the command is argv) reads the same.
	got := dockerExec(t, agent, "", "", "/usr/local/bin/lucid-rdp", "status", "-addr", api.url)
	if !slices.ContainsFunc(strings.Split(got, "\n"), func(line string) bool {
		f := strings.Fields(line)
		return len(f) > 3 && f[0] == "agent-image-2" && f[1] == "docker" && f[2] == "up"
	}) {
		t.Errorf("lucid-rdp status in the container:\n%s", got)
	}

	// The servers are the deployment's containers, made by the agent.
	raw, err := os.ReadFile(filepath.Join(state, docker.DeploymentFile))
	if err != nil {
		t.Fatal(err)
	}
	deployment := strings.TrimSpace(string(raw))
	servers := deploymentContainers(t, cli, deployment)
	if len(servers) != 2 {
		t.Fatalf("%d containers of deployment %s; want 2", len(servers), deployment)
	}

	// Stopping the agent leaves its servers running.
	timeout := 10
	if _, err := cli.ContainerStop(ctx, agent, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if st := inspectState(t, cli, agent); st.Running || st.ExitCode != 0 {
		t.Errorf("the agent's container after docker stop: running %v, exit %d; want a clean exit", st.Running, st.ExitCode)
	}
	after := deploymentContainers(t, cli, deployment)
	for id := range servers {
		if !after[id] {
			t.Errorf("server container %.12s is gone or stopped after the agent stopped", id)
		}
	}
	for _, port := range []int{h.base, h.base + 1} {
		up(t, port)
	}
}

// buildKit is a docker client that builds with the engine's BuildKit, which
// the Dockerfile needs (FROM --platform=$BUILDPLATFORM, cache mounts).
type buildKit struct {
	argv []string // up to the build verb
	env  []string
}

// needBuildKit finds a docker client on PATH that builds with BuildKit:
// one with buildx (its default builder is the engine's own, which sees local
// images), else one from before 23.0, which has BuildKit built in behind
// DOCKER_BUILDKIT=1. Later clients without buildx have only the classic
// builder. A host may have several clients (this one has Debian's 20.10 and
// a newer one ahead of it on PATH), so each is asked.
func needBuildKit(t *testing.T) buildKit {
	t.Helper()
	seen := map[string]bool{}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, "docker")
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		if exec.Command(p, "buildx", "version").Run() == nil {
			return buildKit{argv: []string{p, "buildx", "build", "--builder", "default"}}
		}
		// It prints the client's version even when the engine does not answer.
		v, _ := exec.Command(p, "version", "--format", "{{.Client.Version}}").Output()
		major, _, _ := strings.Cut(strings.TrimSpace(string(v)), ".")
		if n, err := strconv.Atoi(major); err == nil && n < 23 {
			return buildKit{argv: []string{p, "build"}, env: []string{"DOCKER_BUILDKIT=1"}}
		}
	}
	testenv.Missing(t, "no docker client on PATH builds with BuildKit (docker buildx, or a client before 23.0 with DOCKER_BUILDKIT=1), which the Dockerfile needs")
	return buildKit{}
}

// build runs a build with args and fails the test, with the build's output,
// if it fails.
func (b buildKit) build(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.argv[0], append(append(slices.Clone(b.argv[1:]), "--progress", "plain"), args...)...)
	cmd.Env = append(os.Environ(), b.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// buildContext copies this checkout (without .git, bin, dist, .lucid-rdp or
// a vendor/ of its own) into a folder of the test's and gives it a vendor/
// from the host's module cache: with it, the build needs no network.
func buildContext(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	skip := map[string]bool{".git": true, "bin": true, "dist": true, ".lucid-rdp": true, "vendor": true}
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		if d.IsDir() {
			if skip[rel] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil // sockets, links: not sources
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copy the checkout: %v", err)
	}
	cmd := exec.Command("go", "mod", "vendor")
	cmd.Dir = dst
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor (offline, from the module cache): %v\n%s", err, out)
	}
	return dst
}

// checkImageFiles lists image's files (a container made from it, never
// started, exported): no shell or other program is there besides
// lucid-rdp, which is a static x86-64 or arm64 ELF as the host is.
func checkImageFiles(t *testing.T, cli *client.Client, image string) {
	t.Helper()
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: image}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	rc, err := cli.ContainerExport(ctx, created.ID, client.ContainerExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var programs []string
	var binary []byte
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		name := "/" + strings.TrimPrefix(path.Clean(hdr.Name), "/")
		switch base := path.Base(name); {
		case slices.Contains([]string{"sh", "bash", "dash", "ash", "zsh", "busybox"}, base):
			t.Errorf("the image has a shell: %s", name)
		case hdr.Typeflag == tar.TypeReg && hdr.Mode&0o111 != 0 && hdr.Size > 0:
			// (The engine's empty mount points, /etc/hosts and the
			// like, are executable too.)
			programs = append(programs, name)
		}
		if name == "/usr/local/bin/lucid-rdp" {
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(programs, []string{"/usr/local/bin/lucid-rdp"}) {
		t.Errorf("programs in the image: %q; want lucid-rdp alone", programs)
	}
	machine := elf.EM_X86_64
	if in, err := cli.ImageInspect(ctx, image); err == nil && in.Architecture == "arm64" {
		machine = elf.EM_AARCH64
	}
	checkStaticELF(t, "the image's lucid-rdp", bytes.NewReader(binary), machine)
}

// checkStaticELF fails the test unless what r holds (name says what it is)
// is a 64-bit ELF executable for machine with no program interpreter and no
// dynamic section: a static binary.
func checkStaticELF(t *testing.T, name string, r io.ReaderAt, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != machine || f.Type != elf.ET_EXEC {
		t.Errorf("%s: %v %v %v; want a 64-bit %v executable", name, f.Class, f.Machine, f.Type, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is not static: it has %s", name, p.Type)
		}
	}
}

// runAgentContainer starts image as the agent on spec, as its default user
// and with the least the docker driver needs to converge: the host's network
// (servers publish on the host's loopback, where the agent probes them and
// where its API is), the engine's socket and the socket's group, and
// dir (the spec's folder, holding the state folder) at its host path: the
// docker driver names files it renders by their path to the engine. The
// health check runs every half second against addr. The container is
// removed on cleanup (its log shown if the test failed).
func runAgentContainer(t *testing.T, cli *client.Client, image, dir, spec, addr string) string {
	t.Helper()
	ctx := context.Background()
	sock, ok := strings.CutPrefix(cli.DaemonHost(), "unix://")
	if !ok {
		testenv.Missing(t, "the engine is at %s, not a local socket the agent's container can mount", cli.DaemonHost())
	}
	var st syscall.Stat_t
	if err := syscall.Stat(sock, &st); err != nil {
		t.Fatal(err)
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:       image,
			Cmd:         []string{"agent", "-config", spec},
			Env:         []string{"LUCID_RDP_ADDR=" + addr},
			Healthcheck: &container.HealthConfig{Interval: 500 * time.Millisecond},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "host",
			GroupAdd:    []string{strconv.Itoa(int(st.Gid))},
			Binds:       []string{sock + ":/var/run/docker.sock", dir + ":" + dir},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", created.ID).CombinedOutput()
			t.Logf("agent container %.12s log:\n%s", created.ID, logs)
		}
		if _, err := cli.ContainerRemove(context.Background(), created.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Errorf("remove the agent's container: %v", err)
		}
	})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	return created.ID
}

// inspectState returns the state of container id.
func inspectState(t *testing.T, cli *client.Client, id string) *container.State {
	t.Helper()
	in, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in.Container.State
}

// deploymentContainers returns the ids of the running containers labelled
// with deployment.
func deploymentContainers(t *testing.T, cli *client.Client, deployment string) map[string]bool {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{
		Filters: client.Filters{}.Add("label", docker.LabelDeployment+"="+deployment)})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range res.Items {
		ids[c.ID] = true
	}
	return ids
}

// chownTree gives dir and everything in it to uid (group uid too).
func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
	if err != nil {
		t.Errorf("chown %s to %d: %v", dir, uid, err)
	}
}
