package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/drivers/hostslots"
	"github.com/lucid-rdp/lucid-rdp/drivers/xrdpconf"
	"github.com/lucid-rdp/lucid-rdp/internal/atomicfile"
	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/rdpprobe"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Name is this driver's name in the spec.
const Name = "docker"

// Labels lucid-rdp puts on its containers.
const (
	LabelManaged  = "io.lucid-rdp.managed"
	LabelServer   = "io.lucid-rdp.server"
	LabelSpecHash = "io.lucid-rdp.spec-hash"
	// LabelDeployment holds the id of the deployment (one state folder) that
	// made the container; see DeploymentFile.
	LabelDeployment = "io.lucid-rdp.deployment"
	// LabelConfig holds the restart-relevant config as JSON, so a replace can
	// say which field forces it.
	LabelConfig = "io.lucid-rdp.config"
)

// ContainerName is the name of server name's container.
func ContainerName(name string) string { return "lucid-rdp-" + name }

// Paths inside the container.
const (
	containerPort = "3389/tcp"
	xrdpINIPath   = "/etc/xrdp/xrdp.ini"
	sesmanINIPath = "/etc/xrdp/sesman.ini"
	certPath      = "/etc/lucid-rdp/tls/cert.pem"
	keyPath       = "/etc/lucid-rdp/tls/key.pem"
	// usersPath is where the image's entrypoint reads the server's accounts.
	usersPath = "/etc/lucid-rdp/users"
	homePath  = "/home"
)

// StartTimeout bounds how long Start waits for a new container to answer RDP.
const StartTimeout = 30 * time.Second

// DeploymentFile is the file in the state folder that holds the deployment id:
// the value of LabelDeployment on every container this state folder's lucid-rdp
// makes. It is made at the first Start, never by List or plan.
const DeploymentFile = "deployment-id"

// deploymentRE is the shape of a deployment id: 32 lowercase hex digits.
var deploymentRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Driver runs xrdp servers as Docker containers.
type Driver struct {
	// Dir holds one folder of rendered configs per server: state_dir/docker.
	Dir string
	// IDFile holds this deployment's id: state_dir/deployment-id.
	IDFile string
	// Log receives the driver's logs.
	Log hclog.Logger

	cli *client.Client

	mu         sync.Mutex
	deployment string // read or made once, then kept

	tail drivers.LogTail // the containers' sesman logs, for refusals

	slots *hostslots.Share // see UseSlots; made by New
}

// New returns a driver for the engine the environment names (DOCKER_HOST, or
// the default socket). It does not contact the engine: an engine that is down
// shows as an error from List, for docker servers only.
func New(stateDir string, log hclog.Logger) (*Driver, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	cli, err := client.New(client.FromEnv) // negotiates the API version
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	d := &Driver{
		Dir:    filepath.Join(stateDir, "docker"),
		IDFile: filepath.Join(stateDir, DeploymentFile),
		Log:    log.Named(Name),
		cli:    cli,
	}
	d.slots = hostslots.NewShare(Name, d.holdings)
	return d, nil
}

// readDeployment returns this deployment's id, or "" when none was made yet
// (then no container is this deployment's but those made before ids existed).
func (d *Driver) readDeployment() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readDeploymentLocked()
}

func (d *Driver) readDeploymentLocked() (string, error) {
	if d.deployment != "" {
		return d.deployment, nil
	}
	b, err := os.ReadFile(d.IDFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("docker: deployment id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !deploymentRE.MatchString(id) {
		return "", fmt.Errorf("docker: deployment id: %s does not hold one (32 hex digits); lucid-rdp will not guess which containers are its own", d.IDFile)
	}
	d.deployment = id
	return id, nil
}

// ensureDeployment returns this deployment's id, making it when there is none.
// The id is written to a temp file and linked into place, so two lucid-rdp
// processes on one fresh state folder end up with the same id: link never
// replaces a file another wrote first.
func (d *Driver) ensureDeployment() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if id, err := d.readDeploymentLocked(); id != "" || err != nil {
		return id, err
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("docker: deployment id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(d.IDFile), 0o755); err != nil {
		return "", fmt.Errorf("docker: deployment id: %w", err)
	}
	tmp := d.IDFile + "." + id[:8] + ".new"
	if err := atomicfile.Write(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("docker: deployment id: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, d.IDFile); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("docker: deployment id: %w", err)
	}
	return d.readDeploymentLocked() // ours, or the one another process linked first
}

// ours reports whether a container (or volume, or event actor) with these
// labels belongs to this deployment, whose id is deployment ("" when none was
// made yet). Containers made by a lucid-rdp from before deployment ids carry
// the managed label but no deployment label: they are adopted as ours, so that
// upgrading lucid-rdp does not orphan running servers (their replacements get
// the label). On an engine shared by several state folders, each adopts them.
func ours(labels map[string]string, deployment string) bool {
	if labels[LabelManaged] != "true" || labels[LabelServer] == "" {
		return false
	}
	dep := labels[LabelDeployment]
	return dep == "" || dep == deployment
}

// Name implements drivers.Driver.
func (d *Driver) Name() string { return Name }

func managedFilter() client.Filters {
	return client.Filters{}.Add("label", LabelManaged+"=true")
}

// List implements drivers.Driver: one call, filtered by the managed label;
// containers of other deployments are left out.
func (d *Driver) List(ctx context.Context) ([]drivers.Instance, error) {
	dep, err := d.readDeployment()
	if err != nil {
		return nil, err
	}
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: managedFilter()})
	if err != nil {
		return nil, fmt.Errorf("docker: engine unreachable: %w", err)
	}
	var out []drivers.Instance
	for _, c := range res.Items {
		name := c.Labels[LabelServer]
		if !ours(c.Labels, dep) {
			continue
		}
		in := drivers.Instance{
			Name:      name,
			Driver:    Name,
			ID:        shortID(c.ID),
			State:     drivers.StateExited,
			Hash:      c.Labels[LabelSpecHash],
			StartedAt: time.Unix(c.Created, 0).UTC(),
		}
		_ = json.Unmarshal([]byte(c.Labels[LabelConfig]), &in.Config)
		in.Settings, _ = d.readSettings(name)
		if c.State == container.StateRunning {
			in.State = drivers.StateRunning
		} else {
			in.Detail = fmt.Sprintf("container %s is %s", ContainerName(name), c.State)
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (d *Driver) settingsPath(name string) string { return filepath.Join(d.Dir, name, "settings.json") }

func (d *Driver) readSettings(name string) (drivers.Settings, error) {
	var s drivers.Settings
	b, err := os.ReadFile(d.settingsPath(name))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

func (d *Driver) writeSettings(name string, s drivers.Settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.settingsPath(name), append(b, '\n'), 0o600)
}

// owned returns the IDs of this deployment's containers for server name.
func (d *Driver) owned(ctx context.Context, name string) ([]string, error) {
	dep, err := d.readDeployment()
	if err != nil {
		return nil, err
	}
	f := managedFilter().Add("label", LabelServer+"="+name)
	res, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("docker: engine unreachable: %w", err)
	}
	var ids []string
	for _, c := range res.Items {
		if ours(c.Labels, dep) && c.Labels[LabelServer] == name {
			ids = append(ids, c.ID)
		}
	}
	return ids, nil
}

// Start implements drivers.Driver.
func (d *Driver) Start(ctx context.Context, want drivers.Desired) (_ drivers.Instance, err error) {
	made := false // a container was created
	c := want.Config
	if c.Image == "" {
		return drivers.Instance{}, fmt.Errorf("docker: %s: no image", want.Name)
	}
	t0 := time.Now()
	dep, err := d.ensureDeployment()
	if err != nil {
		return drivers.Instance{}, err
	}
	// Leftovers of an earlier container of ours (exited, or stopped for a
	// replace) go first; they hold the name.
	ids, err := d.owned(ctx, want.Name)
	if err != nil {
		return drivers.Instance{}, err
	}
	for _, id := range ids {
		if _, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return drivers.Instance{}, fmt.Errorf("docker: %s: remove old container: %w", want.Name, err)
		}
	}
	dir := filepath.Join(d.Dir, want.Name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		// A first start that fails before it makes a container leaves no
		// folder behind: nothing refers to it.
		defer func() {
			if err != nil && len(ids) == 0 && !made {
				_ = os.RemoveAll(dir)
			}
		}()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %w", err)
	}
	cert, key := "", ""
	mounts := []mount.Mount{
		{Type: mount.TypeBind, Source: filepath.Join(dir, "xrdp.ini"), Target: xrdpINIPath, ReadOnly: true},
		{Type: mount.TypeBind, Source: filepath.Join(dir, "sesman.ini"), Target: sesmanINIPath, ReadOnly: true},
	}
	if c.Certificate != "" {
		cert, key = certPath, keyPath
		mounts = append(mounts,
			mount.Mount{Type: mount.TypeBind, Source: c.Certificate, Target: certPath, ReadOnly: true},
			mount.Mount{Type: mount.TypeBind, Source: c.Key, Target: keyPath, ReadOnly: true})
	}
	if c.UsersFile != "" {
		// Only the contents the spec was checked with: an edit since then is
		// checked at the next load, and applied by the replace that follows.
		if h, err := spec.UsersFileHash(c.UsersFile); err != nil || h != c.UsersHash {
			return drivers.Instance{}, fmt.Errorf("docker: %s: users_file %s changed since the spec was loaded (or cannot be read: %v); it is applied once a reload has checked it", want.Name, c.UsersFile, err)
		}
		// The file itself, read-only: its hashes go nowhere else (not into
		// env, labels or the image), and the entrypoint applies it at start.
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: c.UsersFile, Target: usersPath, ReadOnly: true})
	}
	home, err := d.home(ctx, want.Name, c, dep)
	if err != nil {
		return drivers.Instance{}, err
	}
	mounts = append(mounts, home)
	// In a network of its own, xrdp listens on every address of the
	// container's namespace and the engine publishes that on the host's
	// address:port; in the host's, xrdp listens on address:port itself, and
	// its sesman and X displays take a slot no other server of the host has.
	listen := "3389"
	var slot hostslots.Slot
	if c.Network == spec.NetworkHost {
		listen = xrdpconf.ListenURL(c.Address, c.Port)
		if slot, err = d.reserveSlot(want.Name, want.Settings.MaxSessions, false); err != nil {
			return drivers.Instance{}, err
		}
		defer func() {
			if err != nil && !made {
				d.slots.Release(want.Name)
			}
		}()
		if err := d.writeSlot(want.Name, slot); err != nil {
			return drivers.Instance{}, err
		}
	} else if err := d.dropSlot(want.Name); err != nil {
		return drivers.Instance{}, err
	}
	ini := xrdpconf.XrdpINI(want.Name, listen, c, cert, key, "/var/log/xrdp.log")
	if err := os.WriteFile(filepath.Join(dir, "xrdp.ini"), ini, 0o644); err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sesman.ini"), sesmanINI(want, slot), 0o644); err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %w", err)
	}
	if err := d.writeSettings(want.Name, want.Settings); err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %w", err)
	}

	hostIP, err := netip.ParseAddr(c.Address)
	if err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %s: address %q: %w", want.Name, c.Address, err)
	}
	port := network.MustParsePort(containerPort)
	cfgJSON, _ := json.Marshal(c)
	hash := c.Hash()
	env := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	cfg := &container.Config{
		Image: c.Image,
		Cmd:   c.Command,
		Env:   env,
		Labels: map[string]string{
			LabelManaged:    "true",
			LabelServer:     want.Name,
			LabelSpecHash:   hash,
			LabelDeployment: dep,
			LabelConfig:     string(cfgJSON),
		},
	}
	hostCfg := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled}, // lucid-rdp repairs
		Mounts:        mounts,
		Resources: container.Resources{
			NanoCPUs: int64(c.CPUs * 1e9),
			Memory:   c.MemoryBytes,
		},
	}
	if c.Network == spec.NetworkHost {
		hostCfg.NetworkMode = container.NetworkMode(spec.NetworkHost)
	} else {
		cfg.ExposedPorts = network.PortSet{port: struct{}{}}
		hostCfg.PortBindings = network.PortMap{port: {{HostIP: hostIP, HostPort: strconv.Itoa(c.Port)}}}
	}
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       ContainerName(want.Name),
		Config:     cfg,
		HostConfig: hostCfg,
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return drivers.Instance{}, fmt.Errorf("docker: %s: a container named %s exists and is not lucid-rdp's (it has no %s=true label, or another deployment's %s); lucid-rdp will not touch it: rename or remove it, or rename this server",
				want.Name, ContainerName(want.Name), LabelManaged, LabelDeployment)
		}
		if cerrdefs.IsNotFound(err) {
			return drivers.Instance{}, fmt.Errorf("docker: %s: image %q is not on this host, and lucid-rdp pulls from no registry: "+
				"build it (for lucid/xrdp:bookworm: make xrdp-image), or load it with docker load", want.Name, c.Image)
		}
		return drivers.Instance{}, fmt.Errorf("docker: %s: create: %w", want.Name, err)
	}
	made = true
	t1 := time.Now()
	if _, err := d.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		_, _ = d.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, client.ContainerRemoveOptions{Force: true})
		return drivers.Instance{}, fmt.Errorf("docker: %s: start: %w", want.Name, err)
	}
	t2 := time.Now()
	if err := d.waitUp(ctx, created.ID, c); err != nil {
		return drivers.Instance{}, fmt.Errorf("docker: %s: %w", want.Name, err)
	}
	d.Log.Debug("started", "server", want.Name, "container", shortID(created.ID), "port", c.Port,
		"create", t1.Sub(t0), "start", t2.Sub(t1), "answer", time.Since(t2))
	if want.Settings.Drain {
		if err := d.Drain(ctx, want.Name); err != nil {
			return drivers.Instance{}, err
		}
	}
	return drivers.Instance{
		Name: want.Name, Driver: Name, ID: shortID(created.ID), State: drivers.StateRunning,
		Config: c, Hash: hash, Settings: want.Settings, StartedAt: time.Now().UTC(),
	}, nil
}

// home returns the mount of server name's /home: the spec's host folder
// (made when missing), or the server's volume, made with the managed, server
// and deployment labels when missing. A volume of that name without the
// managed label and this server's name is not lucid-rdp's: the server fails
// rather than mount it. One made by another deployment for a server of the
// same name is used: homes should outlive a lost state folder, and two
// deployments cannot run that server at once (the container name is taken).
func (d *Driver) home(ctx context.Context, name string, c drivers.Config, dep string) (mount.Mount, error) {
	if c.Home != "" {
		if err := os.MkdirAll(c.Home, 0o755); err != nil {
			return mount.Mount{}, fmt.Errorf("docker: %s: home: %w", name, err)
		}
		return mount.Mount{Type: mount.TypeBind, Source: c.Home, Target: homePath}, nil
	}
	vol := drivers.HomeVolume(name)
	got, err := d.cli.VolumeInspect(ctx, vol, client.VolumeInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		_, err = d.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: vol, Labels: map[string]string{
			LabelManaged:    "true",
			LabelServer:     name,
			LabelDeployment: dep,
		}})
		if err != nil {
			return mount.Mount{}, fmt.Errorf("docker: %s: create volume %s: %w", name, vol, err)
		}
	case err != nil:
		return mount.Mount{}, fmt.Errorf("docker: %s: volume %s: %w", name, vol, err)
	case got.Volume.Labels[LabelManaged] != "true" || got.Volume.Labels[LabelServer] != name:
		return mount.Mount{}, fmt.Errorf("docker: %s: a volume named %s exists and is not lucid-rdp's home for this server (it lacks %s=true or %s=%s); lucid-rdp will not give its files to this server: rename or remove it, set home, or rename this server",
			name, vol, LabelManaged, LabelServer, name)
	case got.Volume.Labels[LabelDeployment] != "" && got.Volume.Labels[LabelDeployment] != dep: // none: made before the label, adopted as containers are
		return mount.Mount{}, fmt.Errorf("docker: %s: the volume %s is the home of a server of the same name in another lucid-rdp deployment on this engine (%s=%s; this one is %s); lucid-rdp will not give its files to this server: rename this server, or set home",
			name, vol, LabelDeployment, got.Volume.Labels[LabelDeployment], dep)
	}
	return mount.Mount{Type: mount.TypeVolume, Source: vol, Target: homePath}, nil
}

// waitUp probes the published port until it answers RDP, the container stops,
// or time runs out.
func (d *Driver) waitUp(ctx context.Context, id string, c drivers.Config) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	delay := 2 * time.Millisecond
	for i := 0; ; i++ {
		err := rdpprobe.Probe(ctx, c.Address, c.Port)
		if err == nil {
			return nil
		}
		if i%8 == 7 { // now and then, check the container did not die
			in, ierr := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if ierr == nil && in.Container.State != nil && !in.Container.State.Running {
				return fmt.Errorf("container exited (code %d) before it answered RDP", in.Container.State.ExitCode)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no RDP answer on %s within %s (%v)", net.JoinHostPort(c.Address, strconv.Itoa(c.Port)), StartTimeout, err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// Stop implements drivers.Driver: stop with grace; with forget, remove the
// container and its rendered configs. The server's home (volume or host
// folder) is never removed.
func (d *Driver) Stop(ctx context.Context, name string, grace time.Duration, forget bool) error {
	ids, err := d.owned(ctx, name)
	if err != nil {
		return err
	}
	secs := int(grace.Seconds())
	for _, id := range ids {
		if _, err := d.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: stop %s: %w", name, err)
		}
		if forget {
			if _, err := d.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("docker: remove %s: %w", name, err)
			}
		}
	}
	if forget {
		defer d.slots.Release(name)
		return os.RemoveAll(filepath.Join(d.Dir, name))
	}
	return nil
}

// LabelDrain on an image says how its containers drain: "signals" means
// SIGUSR1 to the container's first process stops its listener and keeps its
// sessions (and the container) going, and SIGUSR2 starts a listener again
// (images/xrdp/entrypoint.sh). A container of an image without it cannot be
// drained: it is left running, taking new sessions, until its sessions end.
const LabelDrain = "io.lucid-rdp.drain"

// running returns the first running container of server name, inspected,
// or nil when none runs.
func (d *Driver) running(ctx context.Context, name string) (*container.InspectResponse, error) {
	ids, err := d.owned(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		res, err := d.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil && res.Container.State != nil && res.Container.State.Running && res.Container.Config != nil {
			return &res.Container, nil
		}
	}
	return nil, nil
}

// drainListener stops (drain) or starts again (!drain) the listener of the
// running container ctr, and reports whether it could: its image must have
// LabelDrain.
func (d *Driver) drainListener(ctx context.Context, name string, ctr *container.InspectResponse, drain bool) (bool, error) {
	if ctr.Config.Labels[LabelDrain] != "signals" {
		d.Log.Warn("the server's image cannot drain (no "+LabelDrain+"=signals label): it takes new sessions until its live ones end",
			"server", name, "image", ctr.Config.Image)
		return false, nil
	}
	sig := map[bool]string{true: "SIGUSR1", false: "SIGUSR2"}[drain]
	if _, err := d.cli.ContainerKill(ctx, ctr.ID, client.ContainerKillOptions{Signal: sig}); err != nil {
		return false, fmt.Errorf("docker: %s: %s: %w", name, sig, err)
	}
	return true, nil
}

// Drain implements drivers.Drainer: the container's listener stops, its
// sessions and the container go on. settings.json records it (Drain), so
// List reports a drained server, and an update that does not ask for a
// drain (a replace called off) takes new sessions again.
func (d *Driver) Drain(ctx context.Context, name string) error {
	ctr, err := d.running(ctx, name)
	if err != nil || ctr == nil {
		return err
	}
	if drained, err := d.drainListener(ctx, name, ctr, true); err != nil || !drained {
		return err
	}
	set, err := d.readSettings(name)
	if err != nil {
		return fmt.Errorf("docker: drain %s: %w", name, err)
	}
	set.Drain = true
	return d.writeSettings(name, set)
}

// sesmanINI renders the sesman.ini of a container: the server's limits, and
// Debian's port and displays in a network of its own, or slot in the host's.
func sesmanINI(want drivers.Desired, slot hostslots.Slot) []byte {
	port, offset := 3350, 10
	if slot.SesmanPort != 0 {
		port, offset = slot.SesmanPort, slot.First
	}
	return xrdpconf.Sesman{
		ListenPort:          port,
		DisplayOffset:       offset,
		MaxSessions:         want.Settings.MaxSessions,
		DisconnectedTimeout: time.Duration(want.Config.DisconnectedTimeout),
		LogFile:             "/var/log/xrdp-sesman.log",
	}.INI(want.Name)
}

// Update implements drivers.Driver: the container's sesman.ini takes the new
// limits and its sesman reloads it, as on the process driver; nothing
// restarts. The file is bind-mounted into the container, so it is rewritten
// in place (a rename would leave the container the old one), and the sesman,
// found in the host's process table under the container's first process, is
// sent SIGHUP with its identity checked.
func (d *Driver) Update(ctx context.Context, want drivers.Desired) error {
	old, oldErr := d.readSettings(want.Name)
	var slot hostslots.Slot
	if want.Config.Network == spec.NetworkHost {
		// A larger max may need a wider block; the live sesman keeps its port.
		// The same max keeps the block it has, with no look at the host.
		cur, err := d.readSlot(want.Name)
		if oldErr != nil || err != nil || cur.SesmanPort == 0 || old.MaxSessions != want.Settings.MaxSessions {
			if cur, err = d.reserveSlot(want.Name, want.Settings.MaxSessions, true); err != nil {
				return err
			}
		}
		slot = cur
	}
	if err := os.WriteFile(filepath.Join(d.Dir, want.Name, "sesman.ini"), sesmanINI(want, slot), 0o644); err != nil {
		return fmt.Errorf("docker: update %s: %w", want.Name, err)
	}
	ctr, err := d.running(ctx, want.Name)
	if err != nil {
		return err
	}
	if ctr != nil {
		if old.Drain != want.Settings.Drain {
			if _, err := d.drainListener(ctx, want.Name, ctr, want.Settings.Drain); err != nil {
				return err
			}
		}
		if err := d.reloadSesman(want.Name, ctr.State.Pid); err != nil {
			return err
		}
	}
	if slot.SesmanPort != 0 { // once its sesman has it
		if err := d.writeSlot(want.Name, slot); err != nil {
			return err
		}
	}
	// The settings last: ones that say "updated" before the container has
	// them would never be updated again.
	if err := d.writeSettings(want.Name, want.Settings); err != nil {
		return fmt.Errorf("docker: update %s: %w", want.Name, err)
	}
	return nil
}

// reloadSesman sends SIGHUP to the main xrdp-sesman of the container whose
// first process is first, with its identity checked. That is the first
// process's child (images/xrdp/entrypoint.sh); a per-session sesman whose
// sesman died is one too, but it is the parent of an X server.
func (d *Driver) reloadSesman(name string, first int) error {
	snap, err := procfs.Snapshot()
	if err != nil {
		return fmt.Errorf("docker: update %s: %w", name, err)
	}
	for _, p := range snap.Children(first) {
		if p.Comm != "xrdp-sesman" || slices.ContainsFunc(snap.Children(p.PID), func(k procfs.Stat) bool { return slices.Contains(drivers.XServers, k.Comm) }) {
			continue // per-session sesmans keep the limits they started with
		}
		if _, err := procfs.Signal(procfs.Identity{PID: p.PID, StartTime: p.StartTime, Comms: []string{"xrdp-sesman"}}, unix.SIGHUP); err != nil {
			return fmt.Errorf("docker: update %s: reload sesman: %w", name, err)
		}
		d.Log.Debug("sesman reloaded", "server", name, "pid", p.PID)
	}
	return nil
}

// Notify implements drivers.Notifier from the engine's event stream: a
// container of this deployment that dies, is OOM-killed or destroyed. When the stream
// breaks (the engine stopped), the engine is pinged with backoff (at most every
// 5 s); once it answers, a note is sent so the caller looks again, and the
// stream is reopened from the last event seen.
func (d *Driver) Notify(ctx context.Context) <-chan string {
	out := make(chan string, 64)
	send := func(name string) {
		select {
		case out <- name:
		default:
		}
	}
	go func() {
		defer close(out)
		since := time.Now()
		backoff := 100 * time.Millisecond
		down := false
		for ctx.Err() == nil {
			if down {
				// The stream broke: wait for the engine to answer again, then
				// say "look again", as things may have changed meanwhile.
				if _, err := d.cli.Ping(ctx, client.PingOptions{}); err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(backoff):
					}
					backoff = min(backoff*2, 5*time.Second)
					continue
				}
				down, backoff = false, 100*time.Millisecond
				d.Log.Info("engine answers again")
				send("")
			}
			f := client.Filters{}.Add("type", string(events.ContainerEventType)).
				Add("label", LabelManaged+"=true").
				Add("event", string(events.ActionDie), string(events.ActionOOM), string(events.ActionDestroy))
			sub, cancel := context.WithCancel(ctx)
			res := d.cli.Events(sub, client.EventsListOptions{Since: strconv.FormatInt(since.Unix(), 10), Filters: f})
			for !down && ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case m, ok := <-res.Messages:
					if !ok {
						down = true
						break
					}
					if m.TimeNano > 0 {
						since = time.Unix(0, m.TimeNano)
					}
					// Event attributes carry the container's labels. The id
					// is read per event: the first Start may make it.
					dep, _ := d.readDeployment()
					if ours(m.Actor.Attributes, dep) {
						send(m.Actor.Attributes[LabelServer])
					}
				case err := <-res.Err:
					if ctx.Err() == nil {
						d.Log.Debug("event stream broke; waiting for the engine", "error", err)
					}
					down = true
				}
			}
			cancel()
		}
	}()
	return out
}
