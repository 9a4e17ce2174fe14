package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
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
		if inCI() {
			t.Fatalf("no Docker engine answers (%v), and CI=true does not allow skipping: scripts/setup.sh test starts dockerd", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	buildResponder(t, cli)
	return cli
}

var responderBuilt bool

func buildResponder(t testing.TB, cli *client.Client) {
	t.Helper()
	if responderBuilt {
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
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "rdp-responder", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(data)
	_ = tw.Close()
	res, err := cli.ImageImport(context.Background(), client.ImageImportSource{Source: &buf, SourceName: "-"}, responderImage,
		client.ImageImportOptions{Changes: []string{`ENTRYPOINT ["/rdp-responder"]`}})
	if err != nil {
		t.Fatalf("import responder image: %v", err)
	}
	_, _ = io.Copy(io.Discard, res)
	res.Close()
	responderBuilt = true
}

// containersOf lists containers with the given name filter, labelled or not.
func containersNamed(t *testing.T, cli *client.Client, name string) []string {
	t.Helper()
	res, err := cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range res.Items {
		ids = append(ids, c.ID)
	}
	return ids
}
