package drivers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"

	"github.com/lucid-rdp/lucid-rdp/internal/procfs"
	"github.com/lucid-rdp/lucid-rdp/internal/socktab"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Driver runs xrdp servers of one kind and reports the ones it owns.
//
// Every method takes ctx first. Implementations must touch only what they own
// (see the package doc) and must be safe for concurrent use on different servers.
type Driver interface {
	// Name is the spec's name for the driver: "process" or "docker".
	Name() string
	// List returns every server this driver owns, running or not.
	List(ctx context.Context) ([]Instance, error)
	// Start runs the server d describes and returns once it answers RDP on its
	// port, or fails. Leftovers of an earlier instance of the same server that is
	// no longer running are cleared first.
	Start(ctx context.Context, d Desired) (Instance, error)
	// Stop stops the server's listener: politely, then by force after grace.
	// Live sessions are not ended (that is what drain means). Stopping a server
	// that is not running succeeds. With forget, the driver also drops its record
	// of the server, so it is no longer listed.
	Stop(ctx context.Context, name string, grace time.Duration, forget bool) error
	// Update applies settings that need no restart to a running server.
	Update(ctx context.Context, d Desired) error
}

// State is what a driver knows of an instance.
type State string

const (
	// StateRunning: the server's listener is alive.
	StateRunning State = "running"
	// StateExited: lucid-rdp owns the server but its listener is gone.
	StateExited State = "exited"
)

// Instance is one server a driver owns, as observed.
type Instance struct {
	// Name is the server's name.
	Name string `json:"name"`
	// Driver is the driver's name.
	Driver string `json:"driver"`
	// ID is the driver's handle: a pid or a container id.
	ID string `json:"id,omitempty"`
	// State is running or exited.
	State State `json:"state"`
	// Config is the restart-relevant configuration the server was started with.
	Config Config `json:"config"`
	// Hash is Config's hash as recorded when the server started.
	Hash string `json:"hash"`
	// Settings are the live-updatable settings last applied.
	Settings Settings `json:"settings"`
	// StartedAt is when the server was started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Detail says more about the state, such as why a server is not running.
	Detail string `json:"detail,omitempty"`
	// Warning is something an operator must know about a running server, such
	// as a limit that cannot be enforced on this host, and what to do about it.
	Warning string `json:"warning,omitempty"`
}

// Desired is what a driver needs to run one server.
type Desired struct {
	// Name is the server's name.
	Name string `json:"name"`
	// Config needs a restart to change; its hash decides replacement.
	Config Config `json:"config"`
	// Settings take effect without a restart.
	Settings Settings `json:"settings"`
}

// Config holds every setting that needs a restart to take effect. Its hash is
// the spec hash recorded on each server (labels, records).
type Config struct {
	Driver              string            `json:"driver"`
	Address             string            `json:"address"`
	Port                int               `json:"port"`
	Image               string            `json:"image,omitempty"`
	Command             []string          `json:"command,omitempty"`
	Env                 map[string]string `json:"env,omitempty"`
	SecurityLayer       string            `json:"security_layer"`
	Certificate         string            `json:"certificate,omitempty"`
	Key                 string            `json:"key,omitempty"`
	DisconnectedTimeout Duration          `json:"disconnected_timeout,omitempty"`
	CPUs                float64           `json:"cpus,omitempty"`
	MemoryBytes         int64             `json:"memory_bytes,omitempty"`
	// UsersFile is the host file of name:HASH lines a docker server's
	// container reads its accounts from; "" for none.
	UsersFile string `json:"users_file,omitempty"`
	// UsersHash is the hash of UsersFile's contents, so that an edit of the
	// file replaces the server (the container applies it at start).
	UsersHash string `json:"users_hash,omitempty"`
	// Home is the host folder bound over a docker server's /home; "" means
	// the named volume the docker driver keeps for the server.
	Home string `json:"home,omitempty"`
	// Network is "host" for a docker server in the host's network namespace,
	// "" for its own (bridge). Empty is omitted, so the hashes of configs
	// from before the field are unchanged.
	Network string `json:"network,omitempty"`
}

// Settings hold what lucid-rdp enforces itself, so changing them needs no
// restart (an update in place).
type Settings struct {
	MaxSessions    int      `json:"max_sessions"`
	IdleTimeout    Duration `json:"idle_timeout,omitempty"`
	DrainTimeout   Duration `json:"drain_timeout,omitempty"`
	PreventDestroy bool     `json:"prevent_destroy,omitempty"`
	// Drain: the server takes no new sessions; its live ones go on.
	Drain bool `json:"drain,omitempty"`
}

// HashVersion prefixes every config hash. It changes only when Config gains or
// loses a field, and a server whose hash has another version is compared field
// by field instead, so upgrading lucid-rdp does not recreate every server.
const HashVersion = "v1"

// Hash returns the versioned hash of c.
func (c Config) Hash() string {
	b, _ := json.Marshal(c) // map keys marshal sorted: deterministic
	sum := sha256.Sum256(b)
	return HashVersion + "-" + hex.EncodeToString(sum[:12])
}

// DesiredFor turns a spec server and its allocated port into a Desired.
func DesiredFor(s *spec.Server, port int) Desired {
	return Desired{
		Name: s.Name,
		Config: Config{
			Driver:              s.Driver,
			Address:             s.Address,
			Port:                port,
			Image:               s.Image,
			Command:             s.Command,
			Env:                 s.Env,
			SecurityLayer:       s.Security.Layer,
			Certificate:         s.Security.Certificate,
			Key:                 s.Security.Key,
			DisconnectedTimeout: Duration(s.Sessions.DisconnectedTimeout),
			CPUs:                s.Resources.CPUs,
			MemoryBytes:         s.Resources.MemoryBytes,
			UsersFile:           s.UsersFile,
			UsersHash:           s.UsersHash,
			Home:                s.Home,
			Network:             s.Network,
		},
		Settings: Settings{
			MaxSessions:    s.Sessions.Max,
			IdleTimeout:    Duration(s.Sessions.IdleTimeout),
			DrainTimeout:   Duration(s.DrainTimeout),
			PreventDestroy: s.PreventDestroy,
			Drain:          s.Drain,
		},
	}
}

// Duration is a time.Duration that reads and writes as "15m0s" in JSON.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// String writes d as a Go duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Notifier is implemented by drivers that can tell, as it happens, that one of
// their servers may have changed: a listener exited, a container died. The
// channel carries server names and is closed when ctx ends. A note only means
// "look again now": the receiver re-observes, it never acts on the note itself.
type Notifier interface {
	Notify(ctx context.Context) <-chan string
}

// Session is one logged-in user on a server: a desktop that sesman started,
// with the connection that shows it, if one does. A connection still at the
// login screen (or one whose login failed) is not a session.
type Session struct {
	// Server is the server's name.
	Server string `json:"server"`
	// User is the account logged in, where visible.
	User string `json:"user,omitempty"`
	// Display is the X display number of the session (":Display").
	Display int `json:"display,omitempty"`
	// State is SessionActive while a client is connected, else SessionDisconnected.
	State string `json:"state"`
	// Client is the connected client's address:port; empty while disconnected.
	Client string `json:"client,omitempty"`
	// PID is the xrdp process serving the connection, or the session's X server
	// while disconnected. StartTime is its start time in clock ticks since boot,
	// as /proc/PID/stat says: together they identify the process.
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"pid_start_time,omitempty"`
	// XPID and XStartTime identify the session's X server. Ending it ends the
	// session: the session's sesman then stops the desktop and cleans up.
	XPID       int    `json:"x_pid,omitempty"`
	XStartTime uint64 `json:"x_pid_start_time,omitempty"`
	// StartedAt is when the session (its X server) started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// ConnectedAt is when the client's connection (PID) started; zero while
	// disconnected.
	ConnectedAt time.Time `json:"connected_at,omitzero"`
	// Idle is how long the user has given the session no keyboard or mouse
	// input, as IdleSource measured it when the session was listed.
	Idle Duration `json:"idle,omitempty"`
	// IdleSource says where Idle comes from: "x11-input" (the session's X
	// server: xorgxrdp feeds it the client's input), or "unknown: WHY" when
	// the X server could not be asked; Idle is then 0 and idle_timeout is not
	// applied to the session.
	IdleSource string `json:"idle_source,omitempty"`
	// Orphan is set when the sesman that started the session is gone and the
	// server's sesman is another (restarted, for a new sessions.max or after
	// a crash): sesman keeps its sessions in memory only, so a user who
	// disconnects from an orphan cannot reconnect to it; a login starts a new
	// session. The agent ends a disconnected orphan.
	Orphan bool `json:"orphan,omitempty"`
}

// Session states.
const (
	SessionActive       = "active"
	SessionDisconnected = "disconnected"
)

// SessionLister is implemented by drivers that can list the live sessions of
// their servers, and their leftovers, from what the pass read of the host.
// Exited instances are asked too: a drained listener's sessions outlive it.
type SessionLister interface {
	Sessions(ctx context.Context, instances []Instance, host *Host) SessionLook
}

// SessionLook is what one look at the sessions of some servers found.
type SessionLook struct {
	Sessions  []Session
	Leftovers []Leftover
	// Unseen maps each server whose sessions could not be looked at to why.
	// It may have live sessions: it must not be treated as having none.
	Unseen map[string]string
}

// Add appends what o found to l.
func (l *SessionLook) Add(o SessionLook) {
	l.Sessions = append(l.Sessions, o.Sessions...)
	l.Leftovers = append(l.Leftovers, o.Leftovers...)
	for server, why := range o.Unseen {
		l.Miss(server, why)
	}
}

// Miss notes that server's sessions could not be looked at, and why.
func (l *SessionLook) Miss(server, why string) {
	if l.Unseen == nil {
		l.Unseen = map[string]string{}
	}
	l.Unseen[server] = why
}

// Host is what one look reads of the host, once, for every driver to share:
// each part is read on first use, so a look that needs no part reads none.
type Host struct {
	readSockets func() (*socktab.Table, error)

	socketsOnce sync.Once
	sockets     *socktab.Table
	socketsErr  error

	procsOnce sync.Once
	procs     *procfs.Procs
	procsErr  error

	peersOnce sync.Once
	peers     map[uint64]uint64
	peersErr  error
}

// NewHost returns a Host that reads the TCP socket table with readSockets
// (nil: socktab.Read).
func NewHost(readSockets func() (*socktab.Table, error)) *Host {
	if readSockets == nil {
		readSockets = socktab.Read
	}
	return &Host{readSockets: readSockets}
}

// Sockets returns the host's TCP socket table, read on first use.
func (h *Host) Sockets() (*socktab.Table, error) {
	h.socketsOnce.Do(func() { h.sockets, h.socketsErr = h.readSockets() })
	return h.sockets, h.socketsErr
}

// Procs returns the snapshot of every process, read on first use.
func (h *Host) Procs() (*procfs.Procs, error) {
	h.procsOnce.Do(func() { h.procs, h.procsErr = procfs.Snapshot() })
	return h.procs, h.procsErr
}

// UnixPeers returns the peers of the host's Unix sockets (socktab.UnixPeers
// of the host's network namespace), read on first use: both drivers need
// them, process servers and docker servers in the host's network.
func (h *Host) UnixPeers() (map[uint64]uint64, error) {
	h.peersOnce.Do(func() { h.peers, h.peersErr = socktab.UnixPeers("") })
	return h.peers, h.peersErr
}

// SessionKeeper is implemented by drivers whose replace restarts only what
// takes new connections, so that live sessions go on through it (the process
// driver: sessions are processes of their own and keep their sesman). A
// server of any other driver that has live sessions is not replaced until
// they end.
type SessionKeeper interface {
	KeepsSessionsOnReplace() bool
}

// Drainer is implemented by drivers that can stop a server taking new
// connections while its live sessions go on. A driver without it is left
// running while it drains: its sessions must not end because an edit removed it.
type Drainer interface {
	Drain(ctx context.Context, name string) error
}

// HomeVolume is the name of the volume that holds docker server name's /home
// when the spec sets no home folder. The docker driver makes it with the
// server's first container and never removes it: removing a server keeps its
// users' files (and plans say so).
func HomeVolume(name string) string { return "lucid-rdp-" + name + "-home" }
