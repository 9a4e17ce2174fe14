package spec

import "github.com/hashicorp/hcl/v2"

// The raw block types gohcl decodes into. Optional attributes are pointers so
// that "not set" differs from the zero value: that is what lets a server inherit
// from `defaults`. Every block keeps its body so validation can point at the
// exact attribute it complains about.
//
// A spec may be several files, and a fleet spec holds the blocks of many hosts,
// so agent and defaults are lists here: selection (fleet.go) keeps at most one
// of each for a host, and says so when there are more.

// fileBlock is the top level of one spec file, or of several read as one.
type fileBlock struct {
	Hosts      []*hostBlock      `hcl:"host,block"`
	Agents     []*agentBlock     `hcl:"agent,block"`
	PortRanges []*portRangeBlock `hcl:"port_range,block"`
	Defaults   []*serverBody     `hcl:"defaults,block"`
	Servers    []*serverBlock    `hcl:"server,block"`
	Alerts     []*alertBlock     `hcl:"alert,block"`
	Notifiers  []*notifyBlock    `hcl:"notify,block"`
}

// add appends the blocks of o, keeping their order.
func (f *fileBlock) add(o *fileBlock) {
	f.Hosts = append(f.Hosts, o.Hosts...)
	f.Agents = append(f.Agents, o.Agents...)
	f.PortRanges = append(f.PortRanges, o.PortRanges...)
	f.Defaults = append(f.Defaults, o.Defaults...)
	f.Servers = append(f.Servers, o.Servers...)
	f.Alerts = append(f.Alerts, o.Alerts...)
	f.Notifiers = append(f.Notifiers, o.Notifiers...)
}

// hostBlock is a `host` block: one host of a fleet.
type hostBlock struct {
	Name      string            `hcl:"name,label"`
	Labels    map[string]string `hcl:"labels,optional"`
	Address   *string           `hcl:"address,optional"`
	TokenFile *string           `hcl:"token_file,optional"`

	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
}

type agentBlock struct {
	Listen      *string `hcl:"listen,optional"`
	StateDir    *string `hcl:"state_dir,optional"`
	Resync      *string `hcl:"resync,optional"`
	Parallelism *int    `hcl:"parallelism,optional"`
	TokenFile   *string `hcl:"token_file,optional"`
	// Hosts selects the hosts of a fleet the block applies to (nil: all).
	Hosts *[]string `hcl:"hosts,optional"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

type portRangeBlock struct {
	Name    string  `hcl:"name,label"`
	Address *string `hcl:"address,optional"`
	From    int     `hcl:"from"`
	To      int     `hcl:"to"`
	// Hosts selects the hosts of a fleet the block applies to (nil: all).
	Hosts *[]string `hcl:"hosts,optional"`

	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
}

// serverBlock is a `server` block: a label and count, and the body the server
// shares with `defaults`.
type serverBlock struct {
	Name  string `hcl:"name,label"`
	Count *int   `hcl:"count,optional"`
	// Hosts selects the hosts of a fleet the block applies to (nil: all).
	// Decoded here, so it never reaches the body shared with defaults.
	Hosts *[]string `hcl:"hosts,optional"`

	Rest      hcl.Body  `hcl:",remain"`
	Body      hcl.Body  `hcl:",body"`
	NameRange hcl.Range `hcl:"name,label_range"`
	DefRange  hcl.Range `hcl:",def_range"`
}

// serverBody holds what a `server` block and the `defaults` block have in common.
type serverBody struct {
	Driver         *string           `hcl:"driver,optional"`
	Image          *string           `hcl:"image,optional"`
	Command        *[]string         `hcl:"command,optional"`
	Env            map[string]string `hcl:"env,optional"`
	Port           *int              `hcl:"port,optional"`
	PortRange      *string           `hcl:"port_range,optional"`
	Address        *string           `hcl:"address,optional"`
	DrainTimeout   *string           `hcl:"drain_timeout,optional"`
	PreventDestroy *bool             `hcl:"prevent_destroy,optional"`
	Drain          *bool             `hcl:"drain,optional"`
	UsersFile      *string           `hcl:"users_file,optional"`
	Home           *string           `hcl:"home,optional"`
	Network        *string           `hcl:"network,optional"`
	// Hosts is the `defaults` block's own selection of hosts; a server
	// block's hosts is decoded by serverBlock and never reaches here.
	Hosts *[]string `hcl:"hosts,optional"`

	Sessions  *sessionsBlock  `hcl:"sessions,block"`
	Security  *securityBlock  `hcl:"security,block"`
	Resources *resourcesBlock `hcl:"resources,block"`

	Body     hcl.Body  `hcl:",body"`
	DefRange hcl.Range `hcl:",def_range"`
}

type sessionsBlock struct {
	Max                 *int    `hcl:"max,optional"`
	IdleTimeout         *string `hcl:"idle_timeout,optional"`
	DisconnectedTimeout *string `hcl:"disconnected_timeout,optional"`

	Body hcl.Body `hcl:",body"`
}

type securityBlock struct {
	Layer       *string `hcl:"layer,optional"`
	Certificate *string `hcl:"certificate,optional"`
	Key         *string `hcl:"key,optional"`

	Body hcl.Body `hcl:",body"`
}

type resourcesBlock struct {
	CPUs   *float64 `hcl:"cpus,optional"`
	Memory *string  `hcl:"memory,optional"`

	Body hcl.Body `hcl:",body"`
}

type alertBlock struct {
	Name          string    `hcl:"name,label"`
	Metric        string    `hcl:"metric"`
	Above         *float64  `hcl:"above,optional"`
	Below         *float64  `hcl:"below,optional"`
	For           *string   `hcl:"for,optional"`
	KeepFiringFor *string   `hcl:"keep_firing_for,optional"`
	Servers       *[]string `hcl:"servers,optional"`
	Action        *string   `hcl:"action,optional"`
	Cooldown      *string   `hcl:"cooldown,optional"`
	Severity      *string   `hcl:"severity,optional"`
	// Hosts selects the hosts of a fleet the block applies to (nil: all).
	Hosts *[]string `hcl:"hosts,optional"`

	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
}

type notifyBlock struct {
	Name string  `hcl:"name,label"`
	Type *string `hcl:"type,optional"`
	URL  string  `hcl:"url"`
	// Hosts selects the hosts of a fleet the block applies to (nil: all).
	Hosts *[]string `hcl:"hosts,optional"`

	NameRange hcl.Range `hcl:"name,label_range"`
	Body      hcl.Body  `hcl:",body"`
	DefRange  hcl.Range `hcl:",def_range"`
}
