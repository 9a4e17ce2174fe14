package integration

import (
	"context"
	"encoding/json"
	"errors"
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

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
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
	h, cli := dockerHost(t)
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
	h, cli := dockerHost(t)
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

// TestDockerMissingImage: a server whose image is not on the host fails with
// what to do (no registry is used here), leaves no folder of its own behind,
// and does not stop the server beside it.
func TestDockerMissingImage(t *testing.T) {
	h, _ := dockerHost(t)
	h.write(`
server "nope" {
  driver = "docker"
  image  = "lucid/nope:missing"
  port   = PORT+1
}

server "fine" {
  driver = "docker"
  image  = "` + responderImage + `"
  port   = PORT+2
}
`)
	code, out := h.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, `image "lucid/nope:missing" is not on this host`) || !strings.Contains(out, "make xrdp-image") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	up(t, h.base+2)
	if _, err := os.Stat(filepath.Join(h.dir, "state", "docker", "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed server left its folder behind (%v)", err)
	}
	h.write("")
	h.mustApply()
}

// TestDockerDeployments: two state folders on one engine are two deployments.
// Each sees only its own containers, so an empty-spec apply of one leaves the
// other's running, and a name the other holds is refused as not lucid-rdp's.
// A container from before deployment ids (managed label, no deployment label)
// is adopted.
func TestDockerDeployments(t *testing.T) {
	a, cli := dockerHost(t)
	b, _ := dockerHost(t)
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

	// a wants the name b's container (and home volume) holds: refused, b's
	// container untouched. The home volume, checked first, is b's.
	a.write("server \"dep-b\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+2\n}\n")
	code, out := a.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "lucid-rdp-dep-b-home is the home of a server of the same name in another lucid-rdp deployment") {
		t.Errorf("a's apply of b's name: exit %d\n%s", code, out)
	}
	if ids := containersNamed(t, cli, docker.ContainerName("dep-b")); len(ids) != 1 || ids[0] != bID {
		t.Fatalf("b's container was touched by a's clashing apply: %v", ids)
	}
	// With a home folder of its own, it is the container's name that clashes.
	a.write("server \"dep-b\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+2\n  home   = \"homes\"\n}\n")
	code, out = a.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(out, "lucid-rdp-dep-b exists and is not lucid-rdp's") {
		t.Errorf("a's apply of b's name, with a home folder: exit %d\n%s", code, out)
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

// TestDockerRealXrdp: a container from the image images/xrdp builds (real xrdp
// from Debian's packages, no registry) answers the RDP probe, with lucid-rdp's
// rendered session settings inside it.
func TestDockerRealXrdp(t *testing.T) {
	h, cli := dockerHost(t)
	needXrdpImage(t, cli)
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
	// Read from the host's /proc: the image need not have pgrep.
	if n := countProcs(containerProcs(t, cli, "lucid-rdp-real"), "xrdp-sesman", 0); n == 0 {
		t.Error("no xrdp-sesman running as root in the container")
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
	h, _ := dockerHost(t)
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
	waitFor(t, 10*time.Second, "proc2 to converge without the engine", func() bool { return probeOK(h.base + 3) })
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
	waitFor(t, 20*time.Second, "the kiosk to be converged again", func() bool { return probeOK(h.base + 2) })
	waitFor(t, 5*time.Second, "status to show the kiosk up", func() bool {
		m, ok := a.listed(t, "servers", "kiosk")
		return ok && m["state"] == "up"
	})
}

// TestDockerDesktopLogin: a person gets a desktop. A docker server with a
// users_file of one account: a wrong password gets no session, the right one
// an xfce desktop (the picture is judged, and the session's Xorg and xfwm4 run
// as the account), a wrong password from a second client meanwhile gets none.
// The account's files live in the server's home volume: they outlive a
// replace, still the account's when a new account comes first in the file,
// and removing the server keeps the volume and says so.
func TestDockerDesktopLogin(t *testing.T) {
	ctx := context.Background()
	h, cli := dockerHost(t)
	need(t, "Xvfb", "xfreerdp")
	needXrdpImage(t, cli)
	// A name of this run's own: the home volume is named after the server,
	// and one of another deployment (or an earlier run) is never touched.
	server, user := fmt.Sprintf("desk-%d", h.base), "alice"
	vol := drivers.HomeVolume(server)
	name := docker.ContainerName(server)
	// Should the test stop half-way, log everyone out first: a server with a
	// live session is drained, not removed, by newHost's cleanup.
	t.Cleanup(func() { logOut(t, cli, name, -1) })

	password := "correct horse battery staple"
	hash := cryptHash(t, password)
	if err := os.WriteFile(filepath.Join(h.dir, server+".users"), []byte("# the desk's accounts\n"+user+":"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	specFor := func(image string) string {
		return "server \"" + server + "\" {\n  driver     = \"docker\"\n  image      = \"" + image + "\"\n  port       = PORT+1\n  users_file = \"" + server + ".users\"\n}\n"
	}
	h.write(specFor(xrdpImage))
	h.mustApply()
	port := h.base + 1
	up(t, port)

	// No secret in what the engine shows of the container.
	inspect, err := exec.Command("docker", "inspect", name).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect: %v\n%s", err, inspect)
	}
	for _, secret := range []string{hash, strings.Split(hash, "$")[3], password} {
		if strings.Contains(string(inspect), secret) {
			t.Errorf("docker inspect %s shows a secret (%.12s...)", name, secret)
		}
	}
	in, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var usersRO, homeVol bool
	for _, m := range in.Container.Mounts {
		usersRO = usersRO || (m.Destination == "/etc/lucid-rdp/users" && !m.RW && m.Source == filepath.Join(h.dir, server+".users"))
		homeVol = homeVol || (m.Destination == "/home" && m.Name == vol)
	}
	if !usersRO || !homeVol {
		t.Errorf("mounts: users file read-only %v, /home on volume %s %v: %+v", usersRO, vol, homeVol, in.Container.Mounts)
	}
	uid := uidIn(t, name, user)
	if uid < 1000 {
		t.Fatalf("%s has uid %d; want an ordinary account", user, uid)
	}

	// A wrong password: no session, no desktop. The container's sesman must
	// have refused it, with the client still there: a login that never got
	// that far would prove nothing.
	refusals := func() int {
		return strings.Count(dockerExec(t, name, "", "", "cat", "/var/log/xrdp-sesman.log"), "pam_authenticate failed")
	}
	before := refusals()
	wrong := desktopScreen(t)
	wrongClient := wrong.login(t, port, user, "not the password")
	waitFor(t, 30*time.Second, "the container's sesman to refuse the wrong password", func() bool { return refusals() > before })
	if wrongClient.exitsWithin(0) {
		t.Fatal("the refused client has gone: the checks below would prove nothing")
	}
	wrong.noDesktopFor(t, 8*time.Second)
	if n := countProcs(containerProcs(t, cli, name), "Xorg", uid); n != 0 {
		t.Fatalf("a wrong password started %d Xorg for %s", n, user)
	}
	_ = wrongClient.Process.Kill()

	// The right password: a desktop, drawn by the account's own X server and
	// window manager.
	t0 := time.Now()
	right := desktopScreen(t)
	right.login(t, port, user, password)
	right.waitDesktop(t, 90*time.Second)
	t.Logf("desktop drawn %s after the client started", time.Since(t0).Round(100*time.Millisecond))
	waitFor(t, 30*time.Second, "Xorg and xfwm4 running as "+user, func() bool {
		ps := containerProcs(t, cli, name)
		return countProcs(ps, "Xorg", uid) == 1 && countProcs(ps, "xfwm4", uid) == 1
	})

	// The agent lists the session with its user, from inside the container.
	api := h.base + 19
	h.writeRaw(h.agentBlock(api, "") + h.expand(specFor(xrdpImage)))
	agent := h.startAgent(api)
	waitFor(t, 15*time.Second, "sessions -json to list "+user+" on "+server, func() bool {
		s, ok := sessionOf(agent.sessionsJSON(t), server, user)
		return ok && s.State == drivers.SessionActive && s.Display > 0 && s.Client != ""
	})
	// What the container uses, from its cgroup: a desktop session holds tens
	// of MiB at least (this read 0 before the docker driver reported usage).
	if srv, ok := agent.listed(t, "servers", server); !ok {
		t.Errorf("%s is not in /v1/status", server)
	} else if mem, _ := srv["memory_bytes"].(float64); mem < 20<<20 {
		t.Errorf("status says %s uses %.0f bytes of memory with a desktop session in it", server, mem)
	}
	if got := agent.metric(t, fmt.Sprintf(`lucid_rdp_server_memory_bytes{server=%q}`, server)); got == "" || got == "0" {
		t.Errorf("lucid_rdp_server_memory_bytes{server=%q} = %q", server, got)
	}
	agent.stop(t) // the rest of the test applies by hand

	// Meanwhile a second client with a wrong password gets nothing.
	before = refusals()
	second := desktopScreen(t)
	secondClient := second.login(t, port, user, "still not the password")
	waitFor(t, 30*time.Second, "the container's sesman to refuse the second wrong password", func() bool { return refusals() > before })
	if secondClient.exitsWithin(0) {
		t.Fatal("the second refused client has gone: the check below would prove nothing")
	}
	second.noDesktopFor(t, 8*time.Second)
	if n := countProcs(containerProcs(t, cli, name), "Xorg", uid); n != 1 {
		t.Errorf("after a wrong password from a second client, %s has %d Xorg; want 1", user, n)
	}

	// The account's files outlive a replace.
	dockerExec(t, name, user, "kept across replaces\n", "tee", "/home/"+user+"/notes.txt")

	// An image change while alice is logged in: replacing the container would
	// end her session, so the server drains first (no new sessions) and the
	// replace waits; the plan says so.
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: xrdpImage, Target: xrdpImage + "-b"}); err != nil {
		t.Fatal(err)
	}
	defer cli.ImageRemove(ctx, xrdpImage+"-b", client.ImageRemoveOptions{})
	h.write(specFor(xrdpImage + "-b"))
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "will be drained, then replaced (1 live session)") || !strings.Contains(out, "alice's session") {
		t.Fatalf("plan of an image change with a live session: exit %d\n%s", code, out)
	}
	if out := h.mustApply(); !strings.Contains(out, "draining before its replace") || !strings.Contains(out, "0 replaced, 0 updated, 0 destroyed, 1 draining") {
		t.Fatalf("apply of the drain before the replace says:\n%s", out)
	}
	if now, _ := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); now.Container.ID != in.Container.ID {
		t.Fatal("the container was replaced under a live session")
	}
	waitFor(t, 10*time.Second, "the drained server to stop answering", func() bool { return !probeOK(port) })
	if code, out := h.planCode(); code != 0 || !strings.Contains(out, "drained for a replace") {
		t.Fatalf("plan while drained for the replace: exit %d\n%s", code, out)
	}
	if countProcs(containerProcs(t, cli, name), "Xorg", uid) != 1 {
		t.Fatal("alice's session did not survive the drain")
	}
	logOut(t, cli, name, uid) // the session ends: now the replace may go ahead
	// A new account comes first in the file now: it must not take the uid of
	// alice's home, which the new container finds on the volume.
	if err := os.WriteFile(filepath.Join(h.dir, server+".users"), []byte("bob:"+cryptHash(t, "bob's")+"\n"+user+":"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.write(specFor(xrdpImage + "-b"))
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "must be replaced") || !strings.Contains(out, "image") {
		t.Fatalf("plan after the image change: exit %d\n%s", code, out)
	}
	h.mustApply()
	up(t, port)
	if now, _ := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); now.Container.ID == in.Container.ID {
		t.Fatal("the container was not replaced")
	}
	if got := dockerExec(t, name, "", "", "stat", "-c", "%U %u %s", "/home/"+user+"/notes.txt"); got != fmt.Sprintf("%s %d 21", user, uid) {
		t.Errorf("after the replace, notes.txt is %q; want owned by %s (uid %d), 21 bytes", got, user, uid)
	}
	if got := dockerExec(t, name, user, "", "cat", "/home/"+user+"/notes.txt"); got != "kept across replaces" {
		t.Errorf("after the replace, notes.txt holds %q", got)
	}
	if bob, now := uidIn(t, name, "bob"), uidIn(t, name, user); bob == now || bob < 1000 || now != uid {
		t.Errorf("after the replace, bob has uid %d and %s %d; want %s to keep %d and bob another", bob, user, now, user, uid)
	}

	// Removing the server keeps its home, and the plan says so.
	h.write("")
	kept := "# home: volume " + vol + " is kept"
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "# "+server+" will be destroyed") || !strings.Contains(out, kept) {
		t.Fatalf("plan after removing the server: exit %d; want %q in:\n%s", code, kept, out)
	}
	if out := h.mustApply(); !strings.Contains(out, kept) {
		t.Errorf("apply does not say the home is kept:\n%s", out)
	}
	if ids := containersNamed(t, cli, name); len(ids) != 0 {
		t.Errorf("the container is still there: %v", ids)
	}
	if _, err := cli.VolumeInspect(ctx, vol, client.VolumeInspectOptions{}); err != nil {
		t.Errorf("the home volume is gone after the server was removed: %v", err)
	}
}

// TestDockerHomeFolder: with home set, the server's /home is that host folder
// (made when missing), no volume is made, and removing the server keeps the
// folder and says so.
func TestDockerHomeFolder(t *testing.T) {
	h, cli := dockerHost(t)
	ctx := context.Background()
	home := filepath.Join(h.dir, "homes", "booth")
	h.write("server \"booth\" {\n  driver = \"docker\"\n  image  = \"" + responderImage + "\"\n  port   = PORT+1\n  home   = \"homes/booth\"\n}\n")
	h.mustApply()
	up(t, h.base+1)
	if st, err := os.Stat(home); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Fatalf("home folder %s: %v %v; want a 0755 folder", home, st, err)
	}
	in, err := cli.ContainerInspect(ctx, docker.ContainerName("booth"), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound := false
	for _, m := range in.Container.Mounts {
		bound = bound || (m.Destination == "/home" && m.Source == home && m.RW)
	}
	if !bound {
		t.Errorf("/home is not %s: %+v", home, in.Container.Mounts)
	}
	if _, err := cli.VolumeInspect(ctx, drivers.HomeVolume("booth"), client.VolumeInspectOptions{}); err == nil {
		t.Errorf("a volume %s was made for a server with a home folder", drivers.HomeVolume("booth"))
	}
	if err := os.WriteFile(filepath.Join(home, "left-here"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.write("")
	kept := "# home: host folder " + home + " is kept"
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, kept) {
		t.Errorf("plan after removing the server: exit %d; want %q in:\n%s", code, kept, out)
	}
	h.mustApply()
	if _, err := os.Stat(filepath.Join(home, "left-here")); err != nil {
		t.Errorf("the home folder's file is gone after the server was removed: %v", err)
	}
}

// TestDockerUsersFileEdit: an edit of a users file's contents (the spec
// itself unchanged) replaces the server, and then the host matches again.
func TestDockerUsersFileEdit(t *testing.T) {
	h, cli := dockerHost(t)
	users := filepath.Join(h.dir, "kiosk.users")
	writeUsers := func(password string) {
		t.Helper()
		if err := os.WriteFile(users, []byte("alice:"+cryptHash(t, password)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeUsers("first")
	h.write("server \"ukiosk\" {\n  driver     = \"docker\"\n  image      = \"" + responderImage + "\"\n  port       = PORT+1\n  users_file = \"kiosk.users\"\n}\n")
	h.mustApply()
	before := containersNamed(t, cli, docker.ContainerName("ukiosk"))
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan after apply: exit %d\n%s", code, out)
	}
	writeUsers("second")
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "# ukiosk must be replaced") || !strings.Contains(out, "users_file") {
		t.Fatalf("plan after the users file changed: exit %d\n%s", code, out)
	}
	h.mustApply()
	up(t, h.base+1)
	if after := containersNamed(t, cli, docker.ContainerName("ukiosk")); len(after) != 1 || len(before) != 1 || after[0] == before[0] {
		t.Errorf("containers before %v, after %v; want one, replaced", before, after)
	}
	if code, out := h.planCode(); code != 0 {
		t.Errorf("plan after the replace: exit %d\n%s", code, out)
	}
}

// TestDockerSessionsMaxUpdate: sessions.max reaches a running container's
// sesman without a restart: with max = 1 a second account is refused by the
// container's sesman; after an edit to max = 2 (an update in place: the same
// container, alice's session untouched) the second account logs in.
func TestDockerSessionsMaxUpdate(t *testing.T) {
	ctx := context.Background()
	const server = "limit"
	specFor := func(max int) string {
		return fmt.Sprintf("server %q {\n  driver     = \"docker\"\n  image      = %q\n  port       = PORT+1\n  users_file = \"limit.users\"\n  sessions {\n    max = %d\n  }\n}\n", server, xrdpImage, max)
	}
	dc := startDesktopContainer(t, server, specFor(1))
	h, cli, name, port, alice, bob := dc.h, dc.cli, dc.name, dc.port, dc.alice, dc.bob
	sesmanLog := func() string { return dockerExec(t, name, "", "", "cat", "/var/log/xrdp-sesman.log") }
	desktopScreen(t).login(t, port, "bob", "bob-pw")
	waitFor(t, 30*time.Second, "the container's sesman to refuse bob", func() bool {
		return strings.Contains(sesmanLog(), "max concurrent session limit exceeded")
	})
	if countProcs(containerProcs(t, cli, name), "Xorg", bob) != 0 {
		t.Fatal("bob got a session beyond max = 1")
	}

	h.write(specFor(2))
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "will be updated in place") || !strings.Contains(out, "sessions.max = 1 -> 2") {
		t.Fatalf("plan of max 1 -> 2: exit %d\n%s", code, out)
	}
	h.mustApply()
	if after, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil || after.Container.ID != dc.id {
		t.Fatal("the container was replaced for a change of sessions.max")
	}
	desktopScreen(t).login(t, port, "bob", "bob-pw")
	waitFor(t, 60*time.Second, "bob's X server, now that max = 2", func() bool {
		return countProcs(containerProcs(t, cli, name), "Xorg", bob) == 1
	})
	if countProcs(containerProcs(t, cli, name), "Xorg", alice) != 1 {
		t.Fatal("alice's session did not survive the update")
	}
}

// TestDockerDrain: drain = true stops a docker server taking new sessions
// while a live one goes on in the same container; drain = false takes them
// again; removing the server drains it until drain_timeout, which ends the
// session, counted in apply's output, and removes the container.
func TestDockerDrain(t *testing.T) {
	ctx := context.Background()
	const server = "drainer"
	specFor := func(drain bool) string {
		return fmt.Sprintf("server %q {\n  driver        = \"docker\"\n  image         = %q\n  port          = PORT+1\n  users_file    = \"drainer.users\"\n  drain_timeout = \"3s\"\n  drain         = %v\n}\n", server, xrdpImage, drain)
	}
	dc := startDesktopContainer(t, server, specFor(false))
	h, cli, name, port, alice, bob := dc.h, dc.cli, dc.name, dc.port, dc.alice, dc.bob

	// drain = true: an update in place; no new sessions, alice's goes on.
	h.write(specFor(true))
	if code, out := h.planCode(); code != 2 || !strings.Contains(out, "drain = false -> true") || !strings.Contains(out, "alice's session") {
		t.Fatalf("plan of drain = true: exit %d\n%s", code, out)
	}
	h.mustApply()
	waitFor(t, 10*time.Second, "the drained server to stop answering", func() bool { return !probeOK(port) })
	// With no listener bob's client gets nowhere and gives up; one that
	// stayed would be connected.
	refused := desktopScreen(t).login(t, port, "bob", "bob-pw")
	if !refused.exitsWithin(30 * time.Second) {
		t.Fatal("bob's client is still running against a drained server")
	}
	ps := containerProcs(t, cli, name)
	if countProcs(ps, "Xorg", bob) != 0 {
		t.Fatal("bob got a session on a drained server")
	}
	if countProcs(ps, "Xorg", alice) != 1 || countProcs(ps, "xrdp", 0) < 1 {
		t.Fatalf("alice's session or its connection did not survive the drain: %+v", ps)
	}
	if after, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil || after.Container.ID != dc.id || !after.Container.State.Running {
		t.Fatal("the container was replaced or stopped by a drain")
	}
	if code, out := h.planCode(); code != 0 {
		t.Fatalf("plan while drained: exit %d\n%s", code, out)
	}

	// drain = false: it takes new sessions again.
	h.write(specFor(false))
	h.mustApply()
	waitFor(t, 10*time.Second, "the undrained server to answer", func() bool { return probeOK(port) })
	desktopScreen(t).login(t, port, "bob", "bob-pw")
	waitFor(t, 60*time.Second, "bob's X server", func() bool { return countProcs(containerProcs(t, cli, name), "Xorg", bob) == 1 })
	logOut(t, cli, name, bob)

	// Removed from the spec: drained, and alice's session goes on until
	// drain_timeout, which ends it; then the container goes.
	h.write("")
	removed := time.Now()
	if out := h.mustApply(); !strings.Contains(out, "draining; its 1 live sessions go on") {
		t.Fatalf("apply of the removal:\n%s", out)
	}
	waitFor(t, 10*time.Second, "the removed server to stop answering", func() bool { return !probeOK(port) })
	if countProcs(containerProcs(t, cli, name), "Xorg", alice) != 1 {
		t.Fatal("alice's session did not survive the removal's drain")
	}
	time.Sleep(time.Until(removed.Add(4 * time.Second)))
	out := h.mustApply()
	if !strings.Contains(out, "ended alice's session") || !strings.Contains(out, "1 destroyed") {
		t.Fatalf("apply after drain_timeout:\n%s", out)
	}
	if ids := containersNamed(t, cli, name); len(ids) != 0 {
		t.Fatalf("the container is still there: %v", ids)
	}
}

// desktopContainer is a docker server with logins, under test.
type desktopContainer struct {
	h          *host
	cli        *client.Client
	name       string // the container's
	id         string // the container's first id
	port       int
	alice, bob int // uids inside the container
	// aliceClient is alice's client, logged in.
	aliceClient *rdpClient
}

// startDesktopContainer is the setup of a docker test with logins: the
// engine, the xrdp image, a desktop client, the users file SERVER.users with
// alice (password alice-pw) and bob (bob-pw), the spec src (which names that
// file and port PORT+1) applied, and alice logged in. Everyone is logged out
// at the end.
func startDesktopContainer(t *testing.T, server, src string) *desktopContainer {
	t.Helper()
	h, cli := dockerHost(t)
	need(t, "Xvfb", "xfreerdp")
	needXrdpImage(t, cli)
	dc := &desktopContainer{h: h, cli: cli, name: docker.ContainerName(server), port: h.base + 1}
	t.Cleanup(func() { logOut(t, cli, dc.name, -1) })
	users := "alice:" + cryptHash(t, "alice-pw") + "\nbob:" + cryptHash(t, "bob-pw") + "\n"
	if err := os.WriteFile(filepath.Join(h.dir, server+".users"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	h.write(src)
	h.mustApply()
	up(t, dc.port)
	in, err := cli.ContainerInspect(context.Background(), dc.name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dc.id = in.Container.ID
	dc.alice, dc.bob = uidIn(t, dc.name, "alice"), uidIn(t, dc.name, "bob")
	dc.aliceClient = desktopScreen(t).login(t, dc.port, "alice", "alice-pw")
	waitFor(t, 60*time.Second, "alice's X server", func() bool { return countProcs(containerProcs(t, cli, dc.name), "Xorg", dc.alice) == 1 })
	return dc
}

// TestDockerHostNetwork: a docker server with network = "host" shares the
// host's network. Its xrdp listens on the server's address:port itself (the
// engine publishes nothing), and its sesman port and X displays are a slot of
// the host's own, apart from those of a process server beside it: both
// sesmans listen on the host's loopback, and the container's X servers' abstract
// sockets are in the host's namespace. Logins get desktops, the agent lists
// the sessions, and a drain keeps them, as in a network of the container's own.
func TestDockerHostNetwork(t *testing.T) {
	const server = "hostnet"
	src := fmt.Sprintf(`server %q {
  driver     = "docker"
  image      = %q
  network    = "host"
  port       = PORT+1
  users_file = "hostnet.users"
  sessions {
    max = 3
  }
}

server "beside" {
  port = PORT+2
  sessions {
    max = 4
  }
}
`, server, xrdpImage)
	dc := startDesktopContainer(t, server, src)
	h, cli, name := dc.h, dc.cli, dc.name
	up(t, h.base+2)

	in, err := cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mode := in.Container.HostConfig.NetworkMode; mode != "host" || len(in.Container.HostConfig.PortBindings) != 0 {
		t.Fatalf("network mode %q, published ports %v; want host and none", mode, in.Container.HostConfig.PortBindings)
	}
	var slot hostslots.Slot
	readJSONFile(t, filepath.Join(h.dir, "state", "docker", server, "slot.json"), &slot)
	beside := h.record("beside")
	if beside.Settings.MaxSessions != 4 || beside.SesmanPort == 0 {
		t.Fatalf("the process server's record: max_sessions %d, sesman port %d; want 4 and a port",
			beside.Settings.MaxSessions, beside.SesmanPort)
	}
	besideFirst, besideLast := hostslots.Block(beside.DisplayOffset, beside.Settings.MaxSessions)
	if _, last := hostslots.Block(slot.First, 3); slot.SesmanPort == 0 || slot.SesmanPort == beside.SesmanPort || slot.Last != last ||
		(slot.First <= besideLast && besideFirst <= slot.Last) {
		t.Fatalf("the container's slot %+v (want 4 displays, for 3 sessions) and the process server's (sesman port %d, displays %d-%d) overlap",
			slot, beside.SesmanPort, besideFirst, besideLast)
	}
	tab, err := socktab.ReadListening()
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []int{slot.SesmanPort, beside.SesmanPort} {
		if !hostslots.Loopback(tab)(port) {
			t.Errorf("no sesman listens on the host's loopback port %d", port)
		}
	}

	// alice's X server (logged in by startDesktopContainer) has a display of
	// the slot, and its abstract socket is in the host's namespace.
	display := xDisplayOf(t, containerProcs(t, cli, name), dc.alice)
	if display < slot.First || display > slot.Last {
		t.Fatalf("alice's X server has display :%d, outside the slot %d-%d", display, slot.First, slot.Last)
	}
	waitFor(t, 10*time.Second, fmt.Sprintf("the abstract socket @/tmp/.X11-unix/X%d in the host's network namespace", display), func() bool {
		unix, _ := os.ReadFile("/proc/net/unix")
		for _, line := range strings.Split(string(unix), "\n") {
			if f := strings.Fields(line); len(f) == 8 && f[7] == fmt.Sprintf("@/tmp/.X11-unix/X%d", display) {
				return true
			}
		}
		return false
	})

	// bob gets a desktop, drawn, on another display of the slot.
	bob := desktopScreen(t)
	bob.login(t, dc.port, "bob", "bob-pw")
	bob.waitDesktop(t, 90*time.Second)
	if d := xDisplayOf(t, containerProcs(t, cli, name), dc.bob); d < slot.First || d > slot.Last || d == display {
		t.Fatalf("bob's X server has display :%d; want one of %d-%d other than alice's :%d", d, slot.First, slot.Last, display)
	}

	// The agent lists both sessions with their users.
	api := h.base + 19
	h.writeRaw(h.agentBlock(api, "") + h.expand(src))
	agent := h.startAgent(api)
	waitFor(t, 15*time.Second, "sessions -json to list alice and bob on "+server, func() bool {
		ss := agent.sessionsJSON(t)
		a, okA := sessionOf(ss, server, "alice")
		b, okB := sessionOf(ss, server, "bob")
		return okA && okB && a.State == drivers.SessionActive && b.State == drivers.SessionActive && a.Client != "" && b.Display > 0
	})
	agent.stop(t)

	// drain = true: no new sessions, the live ones go on.
	h.write(strings.Replace(src, `network    = "host"`, "network    = \"host\"\n  drain      = true", 1))
	h.mustApply()
	waitFor(t, 10*time.Second, "the drained server to stop answering", func() bool { return !probeOK(dc.port) })
	ps := containerProcs(t, cli, name)
	if countProcs(ps, "Xorg", dc.alice) != 1 || countProcs(ps, "Xorg", dc.bob) != 1 {
		t.Fatal("a session did not survive the drain")
	}
	if now, _ := cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{}); now.Container.ID != dc.id {
		t.Fatal("the drain replaced the container")
	}
}

// xDisplayOf returns the display number of uid's X server among ps.
func xDisplayOf(t *testing.T, ps []proc, uid int) int {
	t.Helper()
	for _, p := range ps {
		if p.comm != "Xorg" || p.uid != uid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if n, err := strconv.Atoi(strings.TrimPrefix(arg, ":")); err == nil && strings.HasPrefix(arg, ":") {
				return n
			}
		}
	}
	t.Fatalf("no X server of uid %d among %+v", uid, ps)
	return 0
}

// readJSONFile reads the JSON file path into v.
func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
