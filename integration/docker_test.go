package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
)

func dockerSpec(image string, count int) string {
	return fmt.Sprintf(`
port_range "kiosks" {
  from = PORT+0
  to   = PORT+9
}

server "kiosk" {
  driver     = "docker"
  image      = %q
  port_range = "kiosks"
  count      = %d
  env        = { TZ = "UTC" }
  resources {
    cpus   = 0.5
    memory = "64MiB"
  }
}
`, image, count)
}

// ourContainers lists lucid-rdp's containers for this test's servers by label.
func ourContainers(t *testing.T, cli *client.Client) map[string]container.Summary {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", docker.LabelManaged+"=true")})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range res.Items {
		if strings.HasPrefix(c.Labels[docker.LabelServer], "kiosk") {
			out[c.Labels[docker.LabelServer]] = c
		}
	}
	return out
}

// TestDockerConverge: count = 3 makes three labelled containers answering RDP;
// a plan afterwards is empty; `docker rm -f` of one is planned and restored;
// an image change replaces all three; count 3 -> 1 destroys two.
func TestDockerConverge(t *testing.T) {
	h := newHost(t)
	cli := needDocker(t)
	h.write(dockerSpec(responderImage, 3))
	h.mustApply()
	cs := ourContainers(t, cli)
	if len(cs) != 3 {
		t.Fatalf("%d containers; want 3", len(cs))
	}
	for i := 1; i <= 3; i++ {
		c := cs["kiosk-"+strconv.Itoa(i)]
		if c.Labels[docker.LabelSpecHash] == "" || c.Names[0] != "/lucid-rdp-kiosk-"+strconv.Itoa(i) {
			t.Errorf("container %v: labels %v", c.Names, c.Labels)
		}
		up(t, h.base+i-1)
	}
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan after apply: exit %d\n%s", code, out)
	}

	// docker rm -f one.
	victim := cs["kiosk-2"].ID
	if _, err := cli.ContainerRemove(context.Background(), victim, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	code, out := h.planCode()
	if code != 2 || !strings.Contains(out, "# kiosk-2 will be created") {
		t.Fatalf("plan after rm -f: exit %d\n%s", code, out)
	}
	h.mustApply()
	up(t, h.base+1)
	if ourContainers(t, cli)["kiosk-1"].ID != cs["kiosk-1"].ID {
		t.Error("kiosk-1 was recreated")
	}

	// Change the image (same content, another tag): all three are replaced.
	if _, err := cli.ImageTag(context.Background(), client.ImageTagOptions{Source: responderImage, Target: responderImage + "-b"}); err != nil {
		t.Fatal(err)
	}
	h.write(dockerSpec(responderImage+"-b", 3))
	code, out = h.planCode()
	if code != 2 || !strings.Contains(out, "0 to create, 3 to replace") || !strings.Contains(out, "image") {
		t.Fatalf("plan after image change: exit %d\n%s", code, out)
	}
	h.mustApply()
	for i := 0; i < 3; i++ {
		up(t, h.base+i)
	}

	// Scale 3 -> 1: two destroyed, kiosk-1 kept.
	keep := ourContainers(t, cli)["kiosk-1"].ID
	h.write(dockerSpec(responderImage+"-b", 1))
	out = h.mustApply()
	if !strings.Contains(out, "2 destroyed") {
		t.Errorf("scale down:\n%s", out)
	}
	now := ourContainers(t, cli)
	if len(now) != 1 || now["kiosk-1"].ID != keep {
		t.Errorf("after scale down: %v", now)
	}
}

// TestDockerForeignContainer: a container named like ours but without the
// label is never touched, and the server that wants the name fails clearly.
func TestDockerForeignContainer(t *testing.T) {
	h := newHost(t)
	cli := needDocker(t)
	ctx := context.Background()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "lucid-rdp-kiosk", Config: &container.Config{Image: responderImage}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	h.write(`
server "kiosk" {
  driver = "docker"
  image  = "` + responderImage + `"
  port   = PORT+1
}

server "other" {
  driver = "docker"
  image  = "` + responderImage + `"
  port   = PORT+2
}
`)
	code, out := h.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "lucid-rdp-kiosk exists and is not lucid-rdp's") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	up(t, h.base+2)
	h.write("")
	h.mustApply()
	ids := containersNamed(t, cli, "lucid-rdp-kiosk")
	if len(ids) != 1 || ids[0] != created.ID {
		t.Errorf("the foreign container was touched: %v", ids)
	}
}

// TestDockerDeployments: two state folders on one engine are two deployments.
// Each sees only its own containers, so an empty-spec apply of one leaves the
// other's running, and a name the other holds is refused as not lucid-rdp's.
// A container from before deployment ids (managed label, no deployment label)
// is adopted.
func TestDockerDeployments(t *testing.T) {
	a, b := newHost(t), newHost(t)
	cli := needDocker(t)
	ctx := context.Background()
	a.write("server \"dep-a\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+1\n}\n")
	b.write("server \"dep-b\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+1\n}\n")
	a.mustApply()
	b.mustApply()

	idOf := func(h *host) string {
		t.Helper()
		p := filepath.Join(h.dir, "state", docker.DeploymentFile)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("deployment id: %v", err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v; want 0600", p, st.Mode().Perm())
		}
		raw, _ := os.ReadFile(p)
		return strings.TrimSpace(string(raw))
	}
	depA, depB := idOf(a), idOf(b)
	if depA == "" || depA == depB {
		t.Fatalf("deployment ids %q and %q; want two different ones", depA, depB)
	}
	labelsOf := func(name string) map[string]string {
		t.Helper()
		ids := containersNamed(t, cli, docker.ContainerName(name))
		if len(ids) != 1 {
			t.Fatalf("%d containers named %s; want 1", len(ids), docker.ContainerName(name))
		}
		in, err := cli.ContainerInspect(ctx, ids[0], client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return in.Container.Config.Labels
	}
	if got := labelsOf("dep-a")[docker.LabelDeployment]; got != depA {
		t.Errorf("dep-a's container has deployment %q; want %q", got, depA)
	}
	bID := containersNamed(t, cli, docker.ContainerName("dep-b"))[0]

	// a's empty spec destroys a's server only.
	a.write("")
	out := a.mustApply()
	if !strings.Contains(out, "dep-a") || strings.Contains(out, "dep-b") {
		t.Errorf("a's empty apply:\n%s", out)
	}
	if ids := containersNamed(t, cli, docker.ContainerName("dep-b")); len(ids) != 1 || ids[0] != bID {
		t.Fatalf("b's container was touched by a's apply: %v", ids)
	}
	up(t, b.base+1)
	if code, out := b.planCode(); code != 0 {
		t.Errorf("b's plan after a's empty apply: exit %d\n%s", code, out)
	}
	if code, out := a.planCode(); code != 0 || strings.Contains(out, "dep-b") {
		t.Errorf("a's plan lists b's server: exit %d\n%s", code, out)
	}

	// a wants the name b's container holds: refused, b's container untouched.
	a.write("server \"dep-b\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+2\n}\n")
	code, out := a.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "lucid-rdp-dep-b exists and is not lucid-rdp's") {
		t.Errorf("a's apply of b's name: exit %d\n%s", code, out)
	}
	if ids := containersNamed(t, cli, docker.ContainerName("dep-b")); len(ids) != 1 || ids[0] != bID {
		t.Fatalf("b's container was touched by a's clashing apply: %v", ids)
	}
	a.write("")

	// A container from a lucid-rdp before deployment ids is adopted.
	old, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: docker.ContainerName("dep-old"), Config: &container.Config{
		Image:  responderImage,
		Labels: map[string]string{docker.LabelManaged: "true", docker.LabelServer: "dep-old"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.ContainerRemove(ctx, old.ID, client.ContainerRemoveOptions{Force: true})
	if code, out := a.planCode(); code != 2 || !strings.Contains(out, "# dep-old will be destroyed") {
		t.Errorf("a's plan with a container from before deployment ids: exit %d\n%s", code, out)
	}
	a.mustApply()
	if ids := containersNamed(t, cli, docker.ContainerName("dep-old")); len(ids) != 0 {
		t.Errorf("the adopted container was not destroyed: %v", ids)
	}
}

// xrdpImage is the real xrdp image the tests build with images/xrdp/build.sh.
const xrdpImage = "lucid/xrdp:integration"

// TestDockerRealXrdp: a container from the image images/xrdp builds (real xrdp
// from Debian's packages, no registry) answers the RDP probe, with lucid-rdp's
// rendered session settings inside it.
func TestDockerRealXrdp(t *testing.T) {
	h := newHost(t)
	cli := needDocker(t)
	need(t, "debootstrap")
	if _, err := cli.ImageInspect(context.Background(), xrdpImage); err != nil {
		t.Logf("building %s with images/xrdp/build.sh (about a minute)", xrdpImage)
		cmd := exec.Command("../images/xrdp/build.sh", strings.TrimPrefix(xrdpImage, "lucid/xrdp:"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build.sh: %v\n%s", err, out)
		}
	}
	h.write(`
server "real" {
  driver = "docker"
  image  = "` + xrdpImage + `"
  port   = PORT+1
  sessions {
    max                  = 3
    disconnected_timeout = "10m"
  }
}
`)
	h.mustApply()
	up(t, h.base+1)
	out, err := exec.Command("docker", "exec", "lucid-rdp-real", "cat", "/etc/xrdp/sesman.ini").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nMaxSessions=3\n") || !strings.Contains(string(out), "\nDisconnectedTimeLimit=600\n") {
		t.Errorf("rendered sesman.ini not in force inside the container: %v\n%s", err, out)
	}
	out, _ = exec.Command("docker", "exec", "lucid-rdp-real", "pgrep", "-x", "xrdp-sesman").CombinedOutput()
	if strings.TrimSpace(string(out)) == "" {
		t.Error("no xrdp-sesman in the container")
	}
}

// engineProxy stands between lucid-rdp and the Docker Engine on a socket of
// the test's own, so the test can take "the engine" away and bring it back
// without touching the machine's dockerd.
type engineProxy struct {
	path  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startEngineProxy(t *testing.T, path string) *engineProxy {
	t.Helper()
	p := &engineProxy{path: path}
	p.up(t)
	t.Cleanup(p.down)
	return p
}

func (p *engineProxy) up(t *testing.T) {
	t.Helper()
	_ = os.Remove(p.path)
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e, err := net.Dial("unix", "/var/run/docker.sock")
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, e)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(e, c); e.Close() }()
			go func() { _, _ = io.Copy(c, e); c.Close() }()
		}
	}()
}

// down closes the socket and every connection through it, as a stopped engine would.
func (p *engineProxy) down() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	_ = os.Remove(p.path)
}

// TestDockerEngineDown: with the engine gone, docker servers fail with a clear
// reason while process servers still converge; when it is back, the agent
// converges the docker servers by itself.
func TestDockerEngineDown(t *testing.T) {
	h := newHost(t)
	needDocker(t)
	sock := filepath.Join(h.dir, "engine.sock")
	proxy := startEngineProxy(t, sock)
	t.Setenv("DOCKER_HOST", "unix://"+sock)

	api := freePort(t)
	both := h.agentBlock(api, "") + strings.NewReplacer("PORT+1", strconv.Itoa(h.base+1), "PORT+2", strconv.Itoa(h.base+2), "PORT+3", strconv.Itoa(h.base+3)).Replace(`
server "proc" {
  port = PORT+1
}

server "kiosk" {
  driver = "docker"
  image  = "`+responderImage+`"
  port   = PORT+2
}
`)
	h.writeRaw(both)
	a := h.startAgent(api)
	up(t, h.base+1)
	up(t, h.base+2)

	// The engine goes away mid-run; a process server is added meanwhile.
	proxy.down()
	h.writeRaw(both + fmt.Sprintf("\nserver \"proc2\" {\n  port = %d\n}\n", h.base+3))
	waitFor(t, 10*time.Second, "proc2 to converge without the engine", func() bool { return answers(h.base + 3) })
	code, out := h.run("plan", "-no-color")
	if code != 1 || !strings.Contains(out, "kiosk: docker driver unavailable") {
		t.Errorf("plan without the engine: exit %d\n%s", code, out)
	}
	// The container itself keeps running: lucid-rdp does not own the engine's uptime.
	up(t, h.base+2)

	// The engine is back, and the kiosk's container was lost meanwhile.
	cli, err := client.New(client.WithHost("unix:///var/run/docker.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, id := range containersNamed(t, cli, "lucid-rdp-kiosk") {
		_, _ = cli.ContainerRemove(context.Background(), id, client.ContainerRemoveOptions{Force: true})
	}
	proxy.up(t)
	// No command and no reload: the agent notices the engine is back.
	waitFor(t, 20*time.Second, "the kiosk to be converged again", func() bool { return answers(h.base + 2) })
	waitFor(t, 5*time.Second, "status to show the kiosk up", func() bool {
		for _, s := range a.status(t)["servers"].([]any) {
			if m := s.(map[string]any); m["name"] == "kiosk" {
				return m["state"] == "up"
			}
		}
		return false
	})
}
