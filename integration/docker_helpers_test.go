package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/testenv"
)

// responderImage is the fast test image: a static RDP responder, nothing else.
const responderImage = "lucid-rdp-test/rdp-responder:1"

// needDocker returns a client for a running engine, building the responder
// image once. No engine: skip on a laptop, fail under CI=true.
func needDocker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		testenv.Missing(t, "no Docker engine answers (%v): scripts/setup.sh test starts dockerd", err)
	}
	t.Cleanup(func() { cli.Close() })
	buildResponder(t, cli)
	return cli
}

// responderBuilt holds the engines (by address) that have this run's
// responder image.
var responderBuilt = map[string]bool{}

// buildResponder builds the responder and imports it as responderImage into
// cli's engine, labelled with the binary's hash: an engine that has it
// already is left as it is (each import would leave the last one behind,
// untagged).
func buildResponder(t testing.TB, cli *client.Client) {
	t.Helper()
	if responderBuilt[cli.DaemonHost()] {
		return
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "rdp-responder")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/rdpresponder")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build responder: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	source := hex.EncodeToString(sum[:12])
	const label = "io.lucid-rdp.test-source"
	if in, err := cli.ImageInspect(context.Background(), responderImage); err == nil && in.Config != nil && in.Config.Labels[label] == source {
		responderBuilt[cli.DaemonHost()] = true
		return
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "rdp-responder", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(data)
	_ = tw.Close()
	res, err := cli.ImageImport(context.Background(), client.ImageImportSource{Source: &buf, SourceName: "-"}, responderImage,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/rdp-responder"]`, "LABEL " + label + "=" + source}})
	if err != nil {
		t.Fatalf("import responder image: %v", err)
	}
	_, _ = io.Copy(io.Discard, res)
	res.Close()
	responderBuilt[cli.DaemonHost()] = true
}

// dockerHost is newHost for tests with docker servers: after newHost's
// cleanup has removed the test's servers, it removes the home volumes the
// test's deployment made (lucid-rdp itself never removes a home).
func dockerHost(t *testing.T) (*host, *client.Client) {
	t.Helper()
	cli := needDocker(t)
	var deployment string
	t.Cleanup(func() { // registered before newHost's: runs after it
		if deployment != "" {
			removeHomes(t, cli, deployment)
		}
	})
	h := newHost(t)
	t.Cleanup(func() { // runs before newHost's cleanup, while the state folder is there
		raw, err := os.ReadFile(filepath.Join(h.dir, "state", docker.DeploymentFile))
		if err == nil {
			deployment = strings.TrimSpace(string(raw))
		}
	})
	return h, cli
}

// removeHomes removes the volumes labelled with the deployment id.
func removeHomes(t testing.TB, cli *client.Client, deployment string) {
	t.Helper()
	ctx := context.Background()
	f := client.Filters{}.Add("label", docker.LabelDeployment+"="+deployment)
	res, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
	if err != nil {
		t.Errorf("list the test's home volumes: %v", err)
		return
	}
	for _, v := range res.Items {
		if _, err := cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil {
			t.Errorf("remove home volume %s: %v", v.Name, err)
		}
	}
}

// containersNamed lists the containers called exactly name, labelled or not
// (the engine's name filter is a regular expression, unanchored).
func containersNamed(t *testing.T, cli *client.Client, name string) []string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", "^/"+regexp.QuoteMeta(name)+"$")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids
}

// xrdpImage is the real xrdp image the tests build with images/xrdp/build.sh:
// Debian's xrdp and an xfce desktop, no registry.
const xrdpImage = "lucid/xrdp:integration"

var xrdpImageMu sync.Mutex

// needXrdpImage builds xrdpImage with images/xrdp/build.sh unless the engine
// has one built from the sources in this checkout: build.sh labels the image
// with the hash of itself and the entrypoint, so an image cached from older
// sources (one without the desktop, say) is rebuilt.
func needXrdpImage(t *testing.T, cli *client.Client) {
	t.Helper()
	xrdpImageMu.Lock()
	defer xrdpImageMu.Unlock()
	var src []byte
	for _, f := range []string{"../images/xrdp/build.sh", "../images/xrdp/entrypoint.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	sum := sha256.Sum256(src)
	want := "sha256:" + hex.EncodeToString(sum[:])
	in, err := cli.ImageInspect(context.Background(), xrdpImage)
	if err == nil && in.Config != nil && in.Config.Labels["io.lucid-rdp.image-source"] == want {
		return
	}
	need(t, "debootstrap") // only to build it: a cached image of these sources will do
	t.Logf("building %s with images/xrdp/build.sh (about a minute and a half)", xrdpImage)
	t0 := time.Now()
	cmd := exec.Command("../images/xrdp/build.sh", strings.TrimPrefix(xrdpImage, "lucid/xrdp:"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", xrdpImage, time.Since(t0).Round(time.Second))
}

// proc is one process of a container, as the host's /proc shows it.
type proc struct {
	pid  int
	comm string
	uid  int
}

// containerProcs lists the processes of the running container name: its
// main process and every descendant, read from the host's /proc (the
// container's pid namespace is a part of the host's).
func containerProcs(t *testing.T, cli *client.Client, name string) []proc {
	t.Helper()
	in, err := cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Container.State == nil || in.Container.State.Pid == 0 {
		t.Fatalf("container %s is not running", name)
	}
	snap, err := procfs.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var out []proc
	for _, s := range snap.Tree(in.Container.State.Pid) {
		uid, err := procfs.UID(s.PID)
		if err != nil {
			continue // gone meanwhile
		}
		out = append(out, proc{pid: s.PID, comm: s.Comm, uid: uid})
	}
	return out
}

// countProcs counts the processes called comm that run as uid.
func countProcs(ps []proc, comm string, uid int) int {
	n := 0
	for _, p := range ps {
		if p.comm == comm && p.uid == uid {
			n++
		}
	}
	return n
}

// logOut ends every process of uid (every account from 1000 up, for -1) in
// container name, from the host, and waits until they are gone: their
// sessions end.
func logOut(t *testing.T, cli *client.Client, name string, uid int) {
	t.Helper()
	in, err := cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil || in.Container.State == nil || !in.Container.State.Running {
		return // no container, no sessions
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := 0
		for _, p := range containerProcs(t, cli, name) {
			if p.uid == uid || (uid < 0 && p.uid >= 1000) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d processes of uid %d in %s outlive SIGKILL", n, uid, name)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dockerExec runs argv in container name (as user, when not "") with stdin,
// and returns its output; it fails the test when the command fails.
func dockerExec(t *testing.T, name, user, stdin string, argv ...string) string {
	t.Helper()
	args := []string{"exec", "-i"}
	if user != "" {
		args = append(args, "-u", user)
	}
	cmd := exec.Command("docker", append(append(args, name), argv...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker exec %s %v: %v\n%s", name, argv, err, out)
	}
	return strings.TrimSpace(string(out))
}

// cryptHash returns a SHA-512 crypt(3) hash of password, made by openssl (the
// password goes in on stdin, not on a command line).
func cryptHash(t *testing.T, password string) string {
	t.Helper()
	need(t, "openssl")
	cmd := exec.Command("openssl", "passwd", "-6", "-stdin")
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	h := strings.TrimSpace(string(out))
	if !strings.HasPrefix(h, "$6$") {
		t.Fatalf("openssl passwd -6 gave %q", h)
	}
	return h
}

// uidIn returns the uid of user inside container name.
func uidIn(t *testing.T, name, user string) int {
	t.Helper()
	uid, err := strconv.Atoi(dockerExec(t, name, "", "", "id", "-u", user))
	if err != nil {
		t.Fatal(err)
	}
	return uid
}
