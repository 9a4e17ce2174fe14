package integration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

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
