package spec

import (
	"path"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Spec is a decoded, defaulted, count-expanded and validated lucid-rdp.hcl:
// one host's spec.
type Spec struct {
	// Filename is the name the spec was loaded under: a file, or a folder of
	// *.hcl files.
	Filename string
	// Dir is the absolute folder of the spec (the folder itself when the
	// spec is a folder); relative paths resolve against it.
	Dir string
	// Host is the host of a fleet spec this spec was resolved for; "" for a
	// one-host spec (no host blocks).
	Host string
	// Source holds the bytes the spec was decoded from, which its spec hash
	// covers: a one-file spec's bytes; a folder's files one after another;
	// for a host of a fleet, only the blocks that apply to it, without their
	// hosts attribute, so an edit of another host's part leaves it as it is.
	Source []byte

	// Agent configures the long-running agent and the state folder.
	Agent Agent
	// PortRanges are the declared port ranges, in file order.
	PortRanges []*PortRange
	// Servers are the servers after defaults and count expansion, in file order.
	Servers []*Server
	// Alerts are the alert rules, in file order.
	Alerts []*Alert
	// Notifiers are where alerts are sent, in file order.
	Notifiers []*Notifier
}

// Server returns the server with the given (expanded) name, or nil.
func (s *Spec) Server(name string) *Server {
	for _, srv := range s.Servers {
		if srv.Name == name {
			return srv
		}
	}
	return nil
}

// Alert returns the alert with the given name, or nil.
func (s *Spec) Alert(name string) *Alert {
	for _, a := range s.Alerts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// PortRange returns the port range with the given name, or nil.
func (s *Spec) PortRange(name string) *PortRange {
	for _, r := range s.PortRanges {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Agent is the `agent` block.
type Agent struct {
	// Listen is the HTTP API address (host:port). Default 127.0.0.1:8090.
	Listen string
	// StateDir holds lucid-rdp's records and rendered configs. Absolute.
	// Default /var/lib/lucid-rdp.
	StateDir string
	// Resync is the period of the full re-observation backstop. Default 10s.
	Resync time.Duration
	// Parallelism bounds concurrent driver actions. Default 8.
	Parallelism int
	// TokenFile holds the bearer token for the HTTP API; absolute, or empty.
	// Required when Listen is not a loopback address.
	TokenFile string

	// DefRange is where the block was declared (zero when it was omitted).
	DefRange hcl.Range
}

// PortRange is a `port_range` block: ports servers draw from.
type PortRange struct {
	// Name is the block label.
	Name string
	// Address is the bind address of servers drawing from this range.
	// Default 127.0.0.1.
	Address string
	// From and To bound the range, both inclusive.
	From, To int

	// DefRange is where the block was declared.
	DefRange hcl.Range
}

// Size is the number of ports in the range.
func (r *PortRange) Size() int { return r.To - r.From + 1 }

// Contains reports whether port lies inside the range.
func (r *PortRange) Contains(port int) bool { return port >= r.From && port <= r.To }

// Server is one xrdp server after defaults and count expansion.
type Server struct {
	// Name is the server's unique name: the block label, or LABEL-1 … LABEL-N
	// when the block sets count (even count = 1).
	Name string
	// Block is the label of the server block this server came from.
	Block string

	// Driver runs the server: "process" or "docker". Default "process".
	Driver string
	// Image is the container image (docker only).
	Image string
	// Command overrides the image's command (docker only).
	Command []string
	// Env is passed to the server's environment.
	Env map[string]string
	// UsersFile is the absolute path of a host file of `name:HASH` lines
	// (crypt(3) hashes, as `chpasswd -e` reads them): the accounts a docker
	// server's container is given at each start. "" for none.
	UsersFile string
	// UsersHash is "sha256:HEX" of UsersFile's contents when the spec was
	// loaded, so an edit of the file replaces the server. "" without UsersFile.
	UsersHash string
	// Home is an absolute host folder bound over /home in a docker server's
	// container. "" means the named volume lucid-rdp-NAME-home. Either way
	// the homes outlive the container.
	Home string
	// Network is a docker server's network mode: NetworkBridge (the default:
	// the container has its own network namespace and the engine publishes
	// its port) or NetworkHost (the container shares the host's, and xrdp
	// listens on address:port itself). Always "" for process servers.
	Network string

	// Port is the fixed port, or 0 when the server draws from PortRange.
	Port int
	// PortRange names the range the server draws its port from, or "".
	PortRange string
	// Address is the address the server binds: its range's address, or the
	// server's own `address` for a fixed port. Default 127.0.0.1.
	Address string

	// Sessions are the session limits lucid-rdp enforces.
	Sessions Sessions
	// Security is the xrdp security policy.
	Security Security
	// Resources limits the server's CPU and memory (docker only).
	Resources Resources

	// DrainTimeout is how long live sessions may go on after the server is asked
	// to go away. Default 15m.
	DrainTimeout time.Duration
	// PreventDestroy refuses the removal of this server outright.
	PreventDestroy bool
	// Drain stops the server taking new sessions while its live ones go on.
	Drain bool

	// DefRange is where the server block was declared.
	DefRange hcl.Range
}

// Sessions is the `sessions` block.
type Sessions struct {
	// Max is the most concurrent sessions on the server; at least 1. Default 10.
	Max int
	// IdleTimeout disconnects the client of a session with no input for this
	// long (the session goes on, disconnected); 0 means never.
	IdleTimeout time.Duration
	// DisconnectedTimeout ends a disconnected session after this long; 0 means never.
	DisconnectedTimeout time.Duration
}

// Security layers xrdp offers.
const (
	LayerTLS       = "tls"
	LayerNegotiate = "negotiate"
	LayerRDP       = "rdp"
)

// Security is the `security` block.
type Security struct {
	// Layer is "tls", "negotiate" or "rdp". Default "negotiate".
	Layer string
	// Certificate and Key are absolute paths to a PEM certificate and key, or
	// both empty to use xrdp's own.
	Certificate, Key string
}

// Resources is the `resources` block.
type Resources struct {
	// CPUs is the CPU limit in cores; 0 means none.
	CPUs float64
	// MemoryBytes is the memory limit; 0 means none.
	MemoryBytes int64
}

// Alert is an `alert` block.
type Alert struct {
	// Name is the block label.
	Name string
	// Metric is one of Metrics.
	Metric string
	// Above and Below are the threshold; exactly one is set.
	Above, Below *float64
	// For is how long the condition must hold before the alert fires.
	For time.Duration
	// KeepFiringFor keeps the alert firing this long after the condition clears.
	KeepFiringFor time.Duration
	// Servers are glob patterns over server names (server.* metrics).
	// Empty means every server.
	Servers []string
	// Action is one of Actions. Default "notify".
	Action string
	// Cooldown is the least time between two actions of the alert on one
	// server (DefaultCooldown by action when not set): a flapping alert
	// cannot restart a server, or drain and undrain it, in a loop.
	Cooldown time.Duration
	// Severity, when set, labels the alert's notifications.
	Severity string

	// DefRange is where the block was declared.
	DefRange hcl.Range
}

// Watches reports whether the alert's server.* metrics cover server: whether
// one of Servers (path.Match globs) names it; no globs name every server.
func (a *Alert) Watches(server string) bool {
	if len(a.Servers) == 0 {
		return true
	}
	return slices.ContainsFunc(a.Servers, func(g string) bool { ok, _ := path.Match(g, server); return ok })
}

// Notifier is a `notify` block.
type Notifier struct {
	// Name is the block label.
	Name string
	// Type is "alertmanager" (API v2) or "webhook".
	Type string
	// URL is where alerts are sent.
	URL string

	// DefRange is where the block was declared.
	DefRange hcl.Range
}

// Drivers lists the known driver names.
var Drivers = []string{"process", "docker"}

// Metrics is the closed set of names an alert may watch.
var Metrics = []string{
	"host.cpu_percent",      // whole-host CPU use, 0..100
	"host.memory_percent",   // whole-host memory use, 0..100
	"host.disk_percent",     // use of the filesystem that holds agent.state_dir, 0..100
	"host.load1",            // the host's 1-minute load average
	"server.up",             // 1 when the server answers RDP, else 0
	"server.sessions",       // live sessions on the server
	"server.sessions_ratio", // live sessions / sessions.max, 0..1
	"server.cpu_percent",    // the server's CPU use, percent of one core
	"server.memory_bytes",   // the server's resident memory
	"server.restarts",       // restarts since the agent started
	"port_range.free",       // free ports left in a range
}

// Actions is the closed set of alert actions.
var Actions = []string{"notify", "drain", "restart", "evict_idle", "reject_new"}

// MinRestartCooldown is the least cooldown of a restart alert.
const MinRestartCooldown = 10 * time.Second

// DefaultCooldown is each action's cooldown when the alert sets none: how
// soon it may act again on the same server. A restart is the costliest; an
// eviction under pressure must be able to go on; a drain is held at least
// this long, so a flapping alert does not stop and start a listener in a loop.
var DefaultCooldown = map[string]time.Duration{
	"notify":     0,
	"drain":      time.Minute,
	"restart":    10 * time.Minute,
	"evict_idle": 30 * time.Second,
	"reject_new": time.Minute,
}

// NotifierTypes is the closed set of notifier types.
var NotifierTypes = []string{"alertmanager", "webhook"}
