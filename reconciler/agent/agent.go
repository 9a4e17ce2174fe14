package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/reconciler"
	"github.com/lucid-rdp/lucid-rdp/reconciler/alerts"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// Defaults for Config fields left zero.
const (
	DefaultDebounce = 20 * time.Millisecond
	backoffBase     = 500 * time.Millisecond
	backoffMax      = time.Minute
	// crashWindow and crashLimit: a listener that dies this soon after it
	// started, crashLimit times running, counts as failing and backs off instead
	// of spinning. One quick death (a kill -9, an OOM) is restarted at once.
	crashWindow = 10 * time.Second
	crashLimit  = 3
)

// Config sets up an Agent.
type Config struct {
	// SpecPath is the spec to keep the host converged to: a file, or a folder
	// of *.hcl files (spec.ReadFiles). A fleet spec is resolved for this host.
	SpecPath string
	// Log receives the agent's logs.
	Log hclog.Logger
	// Version is reported in build_info.
	Version string
	// Drivers builds the drivers for a spec (called once, with the first spec).
	Drivers func(*spec.Spec, hclog.Logger) map[string]drivers.Driver
	// Debounce is how long the spec's folder must be quiet before a reload.
	Debounce time.Duration
}

// Agent keeps a host converged. Make one with New, then Run it.
type Agent struct {
	cfg  Config
	log  hclog.Logger
	m    *metrics
	back *backoff
	rec  *reconciler.Reconciler
	drv  map[string]drivers.Driver

	reloadReq chan chan error // POST /v1/reload
	kick      chan struct{}   // "look again now"

	mu   sync.Mutex
	spec *spec.Spec // the last good spec, in force
	// specHash is spec's hash, kept from its load: status is asked for
	// often (the page polls it) and the spec may be 512 KiB.
	specHash string
	specErr  string // why the latest edit was refused
	// revision is the Git commit of the spec in force, errRevision that of
	// the refused edit ("" outside a checkout).
	revision, errRevision string
	loadedAt              time.Time
	lastFiles             []spec.File // as last read; nil when unreadable
	specDir               string      // the folder the spec is in, or is: watched, and where its checkout is (set by the first reload)
	ready                 bool
	status                Status
	restarts              map[string]int
	lastErr               map[string]string
	quick                 map[string]int // consecutive quick deaths, by server (loop only)
	wakeAt                time.Time      // when the last plan changes by the clock alone (loop only)
	enf                   *enforcer      // session limits (loop only)
	nextLook              time.Time      // when the servers with sessions need a look between passes (loop only)
	// waitingChanges: the last plan has changes that wait for sessions to
	// end (loop only).
	waitingChanges bool
	// withSessions are the instances that had sessions at the last look (loop only).
	withSessions []drivers.Instance
	usage        *usage
	alerting     *alerting     // alert evaluation, actions and notifiers (loop only)
	started      int           // passes begun
	lastStart    time.Time     // when the last pass began
	ended        int           // passes finished
	passDone     chan struct{} // closed, and made anew, when a pass ends
	unlock       func()        // lets go of the state folder
	planSlots    chan struct{} // POST /v1/plan requests being answered
}

// New loads the spec and prepares the agent. A spec that does not load at start
// is an error: there is no last good spec to fall back on.
func New(cfg Config) (*Agent, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = DefaultDebounce
	}
	a := &Agent{
		cfg:       cfg,
		log:       cfg.Log.Named("agent"),
		m:         newMetrics(cfg.Version),
		back:      newBackoff(backoffBase, backoffMax),
		reloadReq: make(chan chan error),
		kick:      make(chan struct{}, 1),
		restarts:  map[string]int{},
		lastErr:   map[string]string{},
		quick:     map[string]int{},
		usage:     newUsage(),
		enf:       newEnforcer(),
		passDone:  make(chan struct{}),
		planSlots: make(chan struct{}, planSlots),
	}
	if _, err := a.reload(true); err != nil {
		return nil, err
	}
	// The state folder is this agent's for its whole life, from before it
	// listens: a second agent, or an apply by hand, would fight it over every
	// server. Run lets go of it when it returns.
	unlock, err := reconciler.Lock(a.spec.Agent.StateDir)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.unlock = unlock
	a.alerting = newAlerting(a.spec.Agent.StateDir, a.log)
	a.drv = cfg.Drivers(a.spec, cfg.Log)
	a.rec = &reconciler.Reconciler{Drivers: a.drv, Log: cfg.Log.Named("reconciler")}
	return a, nil
}

// waitingLookEvery is how often the sessions of servers are looked at while a
// change waits for them to end.
const waitingLookEvery = 2 * time.Second

// freshEnough is how old a pass may be for freshPass.
const freshEnough = time.Second

// freshPass waits, at most until limit, for a pass that began at most
// freshEnough before the call to end, asking for one when none did: its look
// at the host is about as new as the caller. A client that polls thus starts
// at most one pass a second.
func (a *Agent) freshPass(ctx context.Context, limit time.Duration) {
	a.mu.Lock()
	want, recent := a.started+1, time.Since(a.lastStart) < freshEnough
	if recent {
		want = a.started // the pass under way, or the last one
	}
	a.mu.Unlock()
	if !recent {
		a.poke()
	}
	deadline := time.After(limit)
	for {
		a.mu.Lock()
		ended, done := a.ended, a.passDone
		a.mu.Unlock()
		if ended >= want {
			return
		}
		select {
		case <-done:
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

// current returns the spec in force.
func (a *Agent) current() *spec.Spec {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spec
}

// reload reads the spec file. Without force, unchanged bytes are skipped. It
// reports whether a new spec is now in force; a bad one leaves the last good
// spec in force and returns an error with the diagnostics.
func (a *Agent) reload(force bool) (bool, error) {
	// Read and parse without the lock that /ready and /v1/status take: a big
	// broken edit must not stall them. Only the loop (and New) reload.
	if a.specDir == "" { // the first load: the spec path is the agent's for life
		a.specDir = watchDir(a.cfg.SpecPath)
	}
	files, err := spec.ReadFiles(a.cfg.SpecPath)
	rev := revisionOf(a.specDir)
	a.mu.Lock()
	same := err == nil && !force && a.lastFiles != nil && sameFiles(files, a.lastFiles)
	inForce, lastErr := a.spec, a.specErr
	a.mu.Unlock()
	// Unchanged bytes are news only when a users file they name changed. Those
	// of a spec that was refused are not known, so it is parsed again: a fix
	// of its users file must be seen.
	if same && lastErr == "" && !usersFilesChanged(inForce) {
		a.mu.Lock()
		a.setRevision(rev) // a commit that left the spec as it was is the one in force now
		a.mu.Unlock()
		return false, nil
	}
	var s *spec.Spec
	var text string
	if err != nil {
		text = err.Error()
	} else {
		var parsed *spec.Spec
		var diags hcl.Diagnostics
		niced(func() {
			parsed, diags = spec.ParseFiles(a.cfg.SpecPath, files)
			if diags.HasErrors() {
				var buf bytes.Buffer // the first few, and a count: a broken edit may hold thousands
				_ = spec.WriteDiagnostics(&buf, diags, spec.Sources(files), 100, false)
				text = buf.String()
			}
		})
		if diags.HasErrors() {
			if same && text == lastErr {
				return false, nil // refused again, for the same reasons: said already
			}
			logged := 0
			for _, d := range diags {
				if d.Subject != nil && d.Severity == hcl.DiagError && logged < spec.MaxShownDiagnostics {
					logged++
					a.log.Error("spec not loaded", "file", d.Subject.Filename, "line", d.Subject.Start.Line,
						"column", d.Subject.Start.Column, "error", d.Summary, "detail", d.Detail)
				}
			}
		} else {
			s = parsed
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastFiles = files // nil when unreadable: the next good read is news, even of the same bytes
	if s == nil {
		a.specErr, a.errRevision = text, rev
		a.m.reloadOK.Set(0)
		if a.spec != nil {
			a.log.Error("keeping the last good spec", "path", a.cfg.SpecPath, "hash", a.specHash)
		}
		return false, fmt.Errorf("%s: %s", a.cfg.SpecPath, text)
	}
	if a.spec != nil {
		// The API address and the state folder are fixed for the agent's life.
		if s.Agent.StateDir != a.spec.Agent.StateDir || s.Agent.Listen != a.spec.Agent.Listen {
			a.log.Warn("agent.state_dir and agent.listen take effect when the agent restarts; keeping the running ones",
				"state_dir", a.spec.Agent.StateDir, "listen", a.spec.Agent.Listen)
			s.Agent.StateDir, s.Agent.Listen, s.Agent.TokenFile = a.spec.Agent.StateDir, a.spec.Agent.Listen, a.spec.Agent.TokenFile
		}
	}
	a.spec, a.specErr, a.loadedAt = s, "", time.Now().UTC()
	a.specHash = reconciler.SpecHash(s)
	a.m.declare(s)
	a.setRevision(rev)
	a.m.reloadOK.Set(1)
	a.m.reloadTimestamp.Set(float64(a.loadedAt.UnixNano()) / 1e9)
	a.log.Info("spec loaded", "path", a.cfg.SpecPath, "hash", a.specHash, "revision", rev, "servers", len(s.Servers))
	return true, nil
}

// usersFilesChanged reports whether a users file that s names has other
// contents now: the spec's bytes alone do not show such an edit.
func usersFilesChanged(s *spec.Spec) bool {
	if s == nil {
		return false
	}
	checked := map[string]bool{} // count = 1000 servers may share one file
	for _, srv := range s.Servers {
		if srv.UsersFile == "" || checked[srv.UsersFile] {
			continue
		}
		checked[srv.UsersFile] = true
		if h, err := spec.UsersFileHash(srv.UsersFile); err != nil || h != srv.UsersHash {
			return true
		}
	}
	return false
}

// Reload asks the running loop to reload the spec now and waits for the pass.
func (a *Agent) Reload(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case a.reloadReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poke asks for a pass soon, collapsing with any already asked for.
func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Listen opens the API's listener on agent.listen.
func (a *Agent) Listen() (net.Listener, error) {
	return net.Listen("tcp", a.current().Agent.Listen)
}

// Run serves the API on ln and keeps the host converged until ctx ends. It
// never stops a server on its way out.
func (a *Agent) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.unlock()

	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http", "error", err)
		}
	}()
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
	}()

	// Watch the folder, not the file: editors and git replace files by rename,
	// and Kubernetes swaps a symlink beside it.
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("agent: watch: %w", err)
	}
	defer w.Close()
	dir := a.specDir
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("agent: watch %s: %w", dir, err)
	}

	for _, d := range a.drv {
		if n, ok := d.(drivers.Notifier); ok {
			events := n.Notify(ctx) // before the first pass, so its starts are watched
			go func() {
				for name := range events {
					a.log.Debug("server changed", "server", name, "driver", d.Name())
					a.poke()
				}
			}()
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	resyncEvery := a.current().Agent.Resync
	resync := time.NewTicker(resyncEvery)
	defer resync.Stop()
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	look := time.NewTimer(time.Hour)
	defer look.Stop()
	lookAt := func() {
		if a.nextLook.IsZero() {
			look.Stop() // an earlier deadline is no longer wanted
		} else {
			look.Reset(max(time.Until(a.nextLook), 0))
		}
	}
	deb := &debouncer{delay: a.cfg.Debounce}

	pass := func() {
		a.mu.Lock()
		a.started++
		a.lastStart = time.Now()
		a.mu.Unlock()
		a.pass(ctx)
		a.mu.Lock()
		a.ended++
		close(a.passDone)
		a.passDone = make(chan struct{})
		a.mu.Unlock()
		next, ok := a.back.next()
		if w := a.wakeAt; !w.IsZero() && (!ok || w.Before(next)) {
			next, ok = w, true
		}
		if ok {
			retry.Reset(max(time.Until(next), 0))
		}
		if r := a.current().Agent.Resync; r != resyncEvery {
			resyncEvery = r
			resync.Reset(r)
		}
		lookAt()
	}
	pass()
	for {
		select {
		case <-ctx.Done():
			a.log.Info("stopping; servers and sessions keep running")
			return nil
		case _, ok := <-w.Events:
			if !ok {
				return errors.New("agent: spec watcher closed")
			}
			deb.poke()
		case err := <-w.Errors:
			a.log.Warn("watch", "error", err)
		case <-deb.C():
			if changed, _ := a.reload(false); changed {
				pass()
			}
		case <-hup:
			a.log.Info("SIGHUP: reloading")
			_, _ = a.reload(true)
			pass()
		case done := <-a.reloadReq:
			_, err := a.reload(true)
			pass()
			done <- err
		case <-a.kick:
			pass()
		case <-resync.C:
			_, _ = a.reload(false) // users files may live outside the watched folder
			pass()
		case <-retry.C:
			pass()
		case <-look.C:
			a.lookAgain(ctx)
			lookAt()
		}
	}
}

// pass is one observe-plan-apply pass over the spec in force.
func (a *Agent) pass(ctx context.Context) {
	start := time.Now()
	s := a.current()
	result := "success"
	defer func() {
		a.m.reconcileDur.Observe(time.Since(start).Seconds())
		a.m.reconcileTotal.WithLabelValues(result).Inc()
	}()
	obs, err := a.rec.Observe(ctx, s)
	if err != nil {
		a.log.Error("observe", "error", err)
		result = "error"
		return
	}
	now := time.Now()
	a.usage.sample(ctx, a.drv, obs.Instances, obs.Host)
	host, alertWake := a.evaluate(s, obs, now) // sets obs.AlertActions: the plan carries them out
	p := reconciler.MakePlan(s, obs, now)
	// A listener that keeps dying right after it starts is failing.
	for _, c := range p.Changes {
		if c.Action != reconciler.Create || c.Before == nil || c.Before.StartedAt.IsZero() {
			continue
		}
		if lived := start.Sub(c.Before.StartedAt); lived < crashWindow {
			a.quick[c.Server]++
			if _, waiting := a.back.waiting(c.Server); !waiting && a.quick[c.Server] >= crashLimit {
				wait := a.back.fail(c.Server)
				a.setErr(c.Server, fmt.Sprintf("listener exited %s after it started, %d times running; retrying in %s", lived.Round(time.Millisecond), a.quick[c.Server], wait))
			}
		}
	}
	for _, in := range obs.Instances {
		if in.State == drivers.StateRunning && start.Sub(in.StartedAt) >= crashWindow {
			delete(a.quick, in.Name)
		}
	}
	// A drain_timeout that passes needs no other event, nor does an
	// alert's for, keep_firing_for or cooldown.
	a.wakeAt = earliest(p.WakeAt, alertWake)
	for _, d := range a.drv {
		if rr, ok := d.(drivers.RefusalReporter); ok {
			for _, r := range rr.Refusals(ctx, obs.Instances, obs.Host) {
				if r.Reason == "max" && rejectsNew(obs, r.Server) {
					r.Reason = alerts.ActionRejectNew // the max that reject_new set
				}
				a.m.rejected.WithLabelValues(r.Server, r.Reason).Inc()
				a.log.Info("login refused by the server's sesman", "server", r.Server, "user", r.User, "reason", r.Reason)
			}
		}
	}
	todo := p.Filter(func(c reconciler.Change) bool {
		_, waiting := a.back.waiting(c.Server)
		return !waiting
	})
	res := &reconciler.Result{}
	if !todo.Empty() {
		if res, err = a.rec.Apply(ctx, s, todo); err != nil {
			a.log.Error("apply", "error", err)
			result = "error"
		}
	}
	changed := map[string]reconciler.Outcome{}
	for _, o := range res.Outcomes {
		name := o.Change.Server
		changed[name] = o
		for _, ses := range o.Ended {
			if o.Change.EndFor != "" {
				a.m.rejected.WithLabelValues(name, alerts.ActionEvictIdle).Inc()
				a.log.Info("session ended: evict_idle of alert "+o.Change.EndFor, "server", name, "user", ses.User, "client", ses.Client, "display", ses.Display, "idle", ses.Idle.String())
				continue
			}
			a.m.rejected.WithLabelValues(name, "drain").Inc()
			a.log.Info("session ended: drain_timeout passed", "server", name, "user", ses.User, "client", ses.Client, "display", ses.Display)
		}
		if o.Err != nil {
			result = "error"
			wait := a.back.fail(name)
			a.setErr(name, fmt.Sprintf("%s: %v (retrying in %s)", o.Change.Action, o.Err, wait))
			a.m.serverErrors.WithLabelValues(name).Inc()
			continue
		}
		if o.Change.Action == reconciler.Create && o.Change.Before != nil {
			a.mu.Lock()
			a.restarts[name]++
			a.mu.Unlock()
			a.m.restarts.WithLabelValues(name).Inc()
		}
	}
	// A server that needed nothing, or was changed fine, has recovered.
	for _, srv := range s.Servers {
		o, touched := changed[srv.Name]
		if _, waiting := a.back.waiting(srv.Name); (!touched || o.Err == nil) && !waiting && !hasProblem(p, srv.Name) {
			a.back.succeed(srv.Name)
			a.setErr(srv.Name, "")
		}
	}
	if len(p.Problems) > 0 {
		result = "error"
	}
	a.afterApply(ctx, s, res, now)
	// A change that waits for sessions to end (a replace or a removal after
	// a drain) is carried out soon after the last one ends: the looks
	// between passes watch for it (lookAgain).
	a.waitingChanges = p.Waiting > 0 || len(p.Draining) > 0
	a.limitSessions(ctx, s, obs, res)
	a.updateStatus(s, p, obs, changed, host)
}

func hasProblem(p *reconciler.Plan, name string) bool {
	for _, pr := range p.Problems {
		if pr.Server == name {
			return true
		}
	}
	return false
}

func (a *Agent) setErr(name, msg string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if msg == "" {
		delete(a.lastErr, name)
	} else {
		a.lastErr[name] = msg
	}
}

// updateStatus rebuilds Status and the server metrics after a pass.
func (a *Agent) updateStatus(s *spec.Spec, p *reconciler.Plan, obs *reconciler.Observed, changed map[string]reconciler.Outcome, host map[string]float64) {
	problems := map[string]string{}
	for _, pr := range p.Problems {
		problems[pr.Server] = pr.Error
	}
	// The servers as they are after this pass: what was observed, with the
	// instances that creates and replaces made.
	instances := map[string]drivers.Instance{}
	for _, in := range obs.Instances {
		instances[in.Name] = in
	}
	for name, o := range changed {
		if o.Err == nil && o.Instance != nil {
			instances[name] = *o.Instance
		}
	}
	alertList := alertStatuses(s, a.alerting.state.Series)

	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{ // Spec and Ready are filled in by Status(), from the fields they derive from
		Servers:       []ServerStatus{},
		Alerts:        []AlertStatus{},
		LastReconcile: time.Now().UTC(),
	}
	if len(problems) > 0 {
		st.Problems = problems
	}
	counts := map[string]float64{"up": 0, "down": 0, "draining": 0, "backoff": 0, "pending": 0}
	a.m.serverUp.Reset()
	a.m.sessions.Reset()
	a.m.serverCPU.Reset()
	a.m.serverMem.Reset()
	add := func(ss ServerStatus) {
		st.Servers = append(st.Servers, ss)
		counts[ss.State]++
		up := 0.0
		if ss.State == "up" {
			up = 1
		}
		a.m.serverUp.WithLabelValues(ss.Name, ss.Driver).Set(up)
		a.m.sessions.WithLabelValues(ss.Name).Set(float64(ss.Sessions))
		a.m.serverCPU.WithLabelValues(ss.Name).Set(ss.CPUPercent)
		a.m.serverMem.WithLabelValues(ss.Name).Set(float64(ss.MemoryBytes))
	}
	byServer := map[string][]drivers.Session{}
	for _, ses := range obs.Sessions {
		byServer[ses.Server] = append(byServer[ses.Server], ses)
	}
	declared := make(map[string]bool, len(s.Servers))
	for _, srv := range s.Servers {
		declared[srv.Name] = true
		ss := ServerStatus{Name: srv.Name, Driver: srv.Driver, MaxSessions: srv.Sessions.Max, Sessions: len(byServer[srv.Name]), SessionList: byServer[srv.Name],
			Restarts: a.restarts[srv.Name], LastError: a.lastErr[srv.Name], Port: p.Ports[srv.Name], State: "down"}
		if msg, ok := problems[srv.Name]; ok {
			ss.State, ss.LastError = "pending", msg
		}
		if in, ok := instances[srv.Name]; ok {
			ss.ID, ss.Port, ss.Warning = in.ID, in.Config.Port, in.Warning
			if in.State == drivers.StateRunning {
				ss.State = "up"
			}
			if in.Settings.Drain && in.State == drivers.StateRunning { // drain = true, or drained for a replace
				ss.State = "draining"
			}
		}
		if until, waiting := a.back.waiting(srv.Name); waiting && ss.State != "up" {
			ss.State, ss.RetryAt = "backoff", until.UTC()
		}
		u, _ := a.usage.get(srv.Name)
		ss.CPUPercent, ss.MemoryBytes = u.cpuPercent, u.rss
		add(ss)
	}
	for _, in := range obs.Instances {
		if !declared[in.Name] {
			if o, ok := changed[in.Name]; ok && o.Err == nil && o.Change.Action == reconciler.Delete {
				continue // destroyed in this pass
			}
			ss := ServerStatus{Name: in.Name, Driver: in.Driver, State: "draining", Port: in.Config.Port, ID: in.ID,
				Sessions: len(byServer[in.Name]), SessionList: byServer[in.Name], Restarts: a.restarts[in.Name], LastError: a.lastErr[in.Name]}
			add(ss)
		}
	}
	sort.Slice(st.Servers, func(i, j int) bool { return st.Servers[i].Name < st.Servers[j].Name })
	for state, n := range counts {
		a.m.servers.WithLabelValues(state).Set(n)
	}
	for _, r := range s.PortRanges {
		used := 0
		for _, port := range p.Ports {
			if r.Contains(port) {
				used++
			}
		}
		a.m.rangeFree.WithLabelValues(r.Name).Set(float64(r.Size() - used))
	}
	st.Alerts = alertList
	a.m.alertFiring.Reset()
	for _, al := range alertList {
		v := 0.0
		if al.State == "firing" {
			v = 1
		}
		a.m.alertFiring.WithLabelValues(al.Name).Set(v)
	}
	a.m.hostCPU.Set(host["host.cpu_percent"])
	a.m.hostMem.Set(host["host.memory_percent"])
	a.m.hostDisk.Set(host["host.disk_percent"])
	a.m.hostLoad.Set(host["host.load1"])
	a.status = st
	a.ready = true
}

// Status returns a copy of the agent's status.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.status
	st.Ready = a.ready
	st.Spec = SpecStatus{Path: a.cfg.SpecPath, Revision: a.revision, LoadedAt: a.loadedAt, Error: a.specErr}
	if a.specErr != "" {
		st.Spec.ErrorRevision = a.errRevision
	}
	if a.spec != nil {
		st.Spec.Hash = a.specHash
		st.Spec.Host = a.spec.Host
	}
	if st.Servers == nil {
		st.Servers = []ServerStatus{}
	}
	if st.Alerts == nil {
		st.Alerts = []AlertStatus{}
	}
	return st
}
