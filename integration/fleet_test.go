package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitopsCheck is the GitOps example's review script.
const gitopsCheck = "../examples/gitops/check.sh"

// fleetHost is one host of the fleet test: a network namespace and a UTS
// namespace of its own on this machine, with its own agent, state folder and
// checkout of the fleet's repository.
type fleetHost struct {
	name     string // its host name, in its UTS namespace
	netns    string // /run/netns/...
	addr     string // its address on the test's bridge
	checkout string // its clone of the fleet repository: the agent's spec folder
	token    string
	agent    *runningAgent
}

// url is where the host's agent API answers.
func (h *fleetHost) url() string { return "http://" + h.addr + ":8090" }

// in returns argv run in h's namespaces, as a program on that host.
func (h *fleetHost) in(nsexec string, argv ...string) *exec.Cmd {
	return exec.Command(nsexec, append([]string{"-net", h.netns, "-hostname", h.name, "--"}, argv...)...)
}

// fleetNetwork makes n hosts' network namespaces, each with an address on a
// bridge of the test's own (named by the test's pid, so that two runs never
// share one), and removes them when the test ends.
func fleetNetwork(t *testing.T, n int) []*fleetHost {
	t.Helper()
	pid := os.Getpid() % 100000
	subnet := fmt.Sprintf("10.214.%d", pid%250)
	bridge := fmt.Sprintf("lf%dbr", pid)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "add", bridge, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", bridge).Run() })
	ip("addr", "add", subnet+".1/24", "dev", bridge)
	ip("link", "set", bridge, "up")
	var hosts []*fleetHost
	for i := range n {
		ns := fmt.Sprintf("lucid-fleet-%d-%d", pid, i+1)
		veth, peer := fmt.Sprintf("lf%d%c", pid, 'a'+i), fmt.Sprintf("lf%d%cp", pid, 'a'+i)
		ip("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() }) // its veth end goes with it, and the pair
		ip("link", "add", veth, "type", "veth", "peer", "name", peer)
		ip("link", "set", peer, "netns", ns)
		ip("link", "set", veth, "master", bridge, "up")
		ip("-n", ns, "link", "set", "lo", "up")
		addr := fmt.Sprintf("%s.%d", subnet, 11+i)
		ip("-n", ns, "addr", "add", addr+"/24", "dev", peer)
		ip("-n", ns, "link", "set", peer, "up")
		hosts = append(hosts, &fleetHost{name: fmt.Sprintf("lab-%d", i+1), netns: "/run/netns/" + ns, addr: addr})
	}
	return hosts
}

// buildNsexec builds testdata/nsexec, which runs a program as one host.
func buildNsexec(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "nsexec")
	if b, err := exec.Command("go", "build", "-o", out, "./testdata/nsexec").CombinedOutput(); err != nil {
		t.Fatalf("build nsexec: %v\n%s", err, b)
	}
	return out
}

// fleetPlanJSON is what the test reads of `fleet plan -json`.
type fleetPlanJSON struct {
	Hosts []struct {
		Host        string `json:"host"`
		Revision    string `json:"revision"`
		SpecChanged bool   `json:"spec_changed"`
		Error       string `json:"error"`
		Plan        *struct {
			Host    string `json:"host"`
			Changes []struct {
				Server string `json:"server"`
				Action string `json:"action"`
			} `json:"changes"`
		} `json:"plan"`
	} `json:"hosts"`
	Summary struct {
		Hosts, Changed, Unchanged, Failed, Create int
	} `json:"summary"`
}

// TestFleet: three hosts on this machine, each in network and UTS namespaces
// of its own (so each knows itself by its host name), with its own agent,
// state folder and clone of one bare repository, pulled by the example pull
// unit's command. A commit that changes one host's part converges that host
// only; `fleet plan` from an operator's clone shows the change on that host
// and none elsewhere, and reports a host whose agent is down; a broken
// commit is refused on every host, which keeps its last good spec and names
// the commit in its status.
func TestFleet(t *testing.T) {
	need(t, "xrdp", "git", "ip")
	needRoot(t)
	base := nextBase
	nextBase += 20
	nsexec := buildNsexec(t)
	u := readUnit(t, pullUnitFile)
	hosts := fleetNetwork(t, 3)
	dir := t.TempDir()

	// The repository: hosts, their agents, and a desk server on every host.
	origin := filepath.Join(dir, "fleet.git")
	ops := filepath.Join(dir, "ops")
	gitIn(t, dir, "init", "-q", "--bare", origin)
	gitIn(t, dir, "clone", "-q", origin, ops)
	var hostsHCL, agentsHCL strings.Builder
	for _, h := range hosts {
		h.token = "token-of-" + h.name
		tokenFile := filepath.Join(dir, "tokens", h.name)
		if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tokenFile, []byte(h.token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&hostsHCL, "host %q {\n  labels     = { room = \"lab\" }\n  address    = %q\n  token_file = %q\n}\n\n", h.name, h.url(), tokenFile)
		fmt.Fprintf(&agentsHCL, "agent {\n  hosts      = [%q]\n  state_dir  = \".lucid-rdp\"\n  listen     = \"%s:8090\"\n  token_file = %q\n  resync     = \"1h\"\n}\n\n", h.name, h.addr, tokenFile)
	}
	common := fmt.Sprintf("port_range \"desks\" {\n  from = %d\n  to   = %d\n}\n\ndefaults {\n  port_range = \"desks\"\n}\n\nserver \"desk\" {}\n", base, base+9)
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ops, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	commit := func(msg string) string {
		t.Helper()
		gitIn(t, ops, "add", "-A")
		gitIn(t, ops, "commit", "-q", "-m", msg)
		return gitIn(t, ops, "rev-parse", "HEAD")
	}
	push := func() { t.Helper(); gitIn(t, ops, "push", "-q", "origin", "HEAD:main") }
	write(".gitignore", ".lucid-rdp/\n") // each host's state folder, in its checkout
	write("hosts.hcl", hostsHCL.String())
	write("agents.hcl", agentsHCL.String())
	write("common.hcl", common)
	first := commit("three lab hosts, a desk each")
	push()
	if code, out, _ := run(t, bin, "validate", ops); code != 0 || !strings.Contains(out, "3 hosts") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}

	// Each host clones the repository and runs its agent on the checkout.
	startAgent := func(h *fleetHost) {
		t.Helper()
		h.agent = startAgentAt(t, h.url(), h.token, 30*time.Second, h.in(nsexec, bin, "agent", "-config", h.checkout))
	}
	for _, h := range hosts {
		h.checkout = filepath.Join(dir, h.name)
		gitIn(t, dir, "clone", "-q", "--branch", "main", origin, h.checkout)
		t.Cleanup(func() { // after the agent stops: the empty spec removes the host's servers
			empty := filepath.Join(dir, h.name+"-empty.hcl")
			src := fmt.Sprintf("agent {\n  state_dir = %q\n}\n", filepath.Join(h.checkout, ".lucid-rdp"))
			if err := os.WriteFile(empty, []byte(src), 0o644); err != nil {
				t.Error(err)
				return
			}
			if out, err := h.in(nsexec, bin, "apply", "-auto-approve", "-config", empty).CombinedOutput(); err != nil {
				t.Errorf("%s: cleanup apply: %v\n%s", h.name, err, out)
			}
		})
		startAgent(h)
	}
	type seen struct{ hash, id string }
	look := func(h *fleetHost) (map[string]any, map[string]seen) {
		t.Helper()
		st := h.agent.status(t)
		sp, _ := st["spec"].(map[string]any)
		servers := map[string]seen{}
		list, _ := st["servers"].([]any)
		for _, x := range list {
			e := x.(map[string]any)
			if e["state"] == "up" {
				servers[fmt.Sprint(e["name"])] = seen{id: fmt.Sprint(e["id"])}
			}
		}
		return sp, servers
	}
	before := map[string]map[string]seen{}
	hashes := map[string]any{}
	for _, h := range hosts {
		waitFor(t, 20*time.Second, h.name+"'s desk to be up", func() bool { _, s := look(h); return len(s) == 1 && s["desk"].id != "" })
		sp, servers := look(h)
		if sp["host"] != h.name || sp["revision"] != first {
			t.Errorf("%s: status spec %v; want host %s at revision %s", h.name, sp, h.name, first)
		}
		before[h.name], hashes[h.name] = servers, sp["hash"]
	}

	// A change to lab-2's part, reviewed before it is pushed: fleet plan
	// shows it on lab-2 and nothing elsewhere.
	write("lab-2.hcl", "server \"extra\" {\n  hosts = [\"lab-2\"]\n}\n")
	second := commit("an extra desk on lab-2")
	code, out, errs := run(t, bin, "fleet", "plan", "-config", ops, "-json", "-detailed-exitcode")
	var fp fleetPlanJSON
	if err := json.Unmarshal([]byte(out), &fp); err != nil || code != 2 {
		t.Fatalf("fleet plan -json: exit %d (want 2), %v\n%s%s", code, err, out, errs)
	}
	if fp.Summary.Hosts != 3 || fp.Summary.Changed != 1 || fp.Summary.Unchanged != 2 || fp.Summary.Failed != 0 || fp.Summary.Create != 1 {
		t.Errorf("summary %+v; want 3 hosts: 1 changed (1 create), 2 unchanged", fp.Summary)
	}
	for i, hp := range fp.Hosts {
		h := hosts[i]
		wantChanges := 0
		if h.name == "lab-2" {
			wantChanges = 1
		}
		switch {
		case hp.Host != h.name || hp.Error != "" || hp.Plan == nil || hp.Plan.Host != h.name || hp.Revision != first:
			t.Errorf("%s: %+v; want its plan, made as %s, from revision %s", h.name, hp, h.name, first)
		case len(hp.Plan.Changes) != wantChanges || hp.SpecChanged != (wantChanges == 1):
			t.Errorf("%s: changes %+v, spec changed %v; want %d", h.name, hp.Plan.Changes, hp.SpecChanged, wantChanges)
		case wantChanges == 1 && (hp.Plan.Changes[0].Server != "extra" || hp.Plan.Changes[0].Action != "create"):
			t.Errorf("%s: %+v; want extra created", h.name, hp.Plan.Changes)
		}
	}
	// The GitOps example's check, as CI would run it on this commit.
	check := func(env ...string) (int, string) {
		t.Helper()
		argv := append([]string{"env"}, env...)
		code, out, errs := run(t, append(argv, "LUCID_RDP="+bin, "NO_COLOR=1", "bash", gitopsCheck, ops)...)
		return code, out + errs
	}
	planJSON := filepath.Join(dir, "plan.json")
	if code, out := check("PLAN_JSON=" + planJSON); code != 0 || !strings.Contains(out, "OK, with changes") {
		t.Errorf("%s: exit %d; want OK, with changes:\n%s", gitopsCheck, code, out)
	}
	if b, err := os.ReadFile(planJSON); err != nil || json.Unmarshal(b, &fp) != nil || fp.Summary.Changed != 1 {
		t.Errorf("%s's PLAN_JSON: %v, %+v; want the fleet plan, 1 host changed", gitopsCheck, err, fp.Summary)
	}
	code, out, _ = run(t, bin, "fleet", "plan", "-config", ops, "-no-color")
	for _, want := range []string{"host lab-1 (" + hosts[0].url() + ", runs " + first[:12] + ")", "+ server \"extra\"",
		"Fleet: 3 hosts: 1 to change, 2 unchanged, 0 failed. Servers: 1 to create, 0 to replace, 0 to update, 0 to destroy."} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("fleet plan: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	// Pushed and pulled everywhere: lab-2 converges; the others run the new
	// revision with the same spec and the same servers.
	push()
	for _, h := range hosts {
		pullRecipe(t, u, h.checkout)
	}
	for _, h := range hosts {
		waitFor(t, 20*time.Second, h.name+" at the new revision", func() bool {
			sp, s := look(h)
			return sp["revision"] == second && (h.name != "lab-2" || s["extra"].id != "")
		})
		sp, servers := look(h)
		switch h.name {
		case "lab-2":
			if sp["hash"] == hashes[h.name] || servers["desk"] != before[h.name]["desk"] {
				t.Errorf("lab-2: spec %v, servers %v; want a new spec, desk as it was (%v) and extra", sp, servers, before[h.name])
			}
		default:
			if sp["hash"] != hashes[h.name] || len(servers) != 1 || servers["desk"] != before[h.name]["desk"] {
				t.Errorf("%s: spec %v, servers %v; want its spec and servers as they were (%v)", h.name, sp, servers, before[h.name])
			}
		}
	}
	if code, out, _ := run(t, bin, "fleet", "plan", "-config", ops, "-detailed-exitcode"); code != 0 || strings.Count(out, "No changes.") != 3 {
		t.Errorf("fleet plan after the pull: exit %d; want 0 and no changes on any host:\n%s", code, out)
	}

	// lab-3's agent down: fleet plan plans the others and says so of lab-3.
	hosts[2].agent.stop(t)
	code, out, errs = run(t, bin, "fleet", "plan", "-config", ops, "-json")
	fp = fleetPlanJSON{}
	if err := json.Unmarshal([]byte(out), &fp); err != nil || code != 1 {
		t.Fatalf("fleet plan with lab-3 down: exit %d (want 1), %v\n%s%s", code, err, out, errs)
	}
	if fp.Summary.Failed != 1 || fp.Summary.Unchanged != 2 || !strings.Contains(fp.Hosts[2].Error, "connection refused") || fp.Hosts[0].Plan == nil {
		t.Errorf("with lab-3 down: %+v; want lab-3 failed (connection refused), the others planned", fp)
	}
	code, out, _ = run(t, bin, "fleet", "plan", "-config", ops, "-no-color")
	if code != 1 || !strings.Contains(out, "host lab-3 ("+hosts[2].url()+")\nError: connection refused") || !strings.Contains(out, "1 failed") {
		t.Errorf("fleet plan with lab-3 down: exit %d; want 1, naming lab-3:\n%s", code, out)
	}
	if code, out := check(); code == 0 || !strings.Contains(out, "connection refused") {
		t.Errorf("%s with lab-3 down: exit %d; want it to fail, naming the refused connection:\n%s", gitopsCheck, code, out)
	}
	startAgent(hosts[2])
	if _, servers := look(hosts[2]); servers["desk"] != before["lab-3"]["desk"] {
		t.Errorf("lab-3 after its agent's restart: %v; want desk as it was (%v)", servers, before["lab-3"])
	}

	// A broken commit: refused by fleet plan before it is pushed, and by
	// every host once pulled; each keeps its last good spec and servers.
	write("common.hcl", common+"server \"broken\" {\n  port = \n}\n")
	broken := commit("break the common part")
	if code, out, errs := run(t, bin, "fleet", "plan", "-config", ops); code != 1 || out != "" || !strings.Contains(errs, "common.hcl:") || !strings.Contains(errs, "nothing was sent") {
		t.Errorf("fleet plan of a broken folder: exit %d; want 1, naming common.hcl, sending nothing:\n%s%s", code, out, errs)
	}
	push()
	for _, h := range hosts {
		pullRecipe(t, u, h.checkout)
	}
	for _, h := range hosts {
		waitFor(t, 20*time.Second, h.name+" to refuse the broken commit", func() bool {
			sp, _ := look(h)
			return sp["error_revision"] == broken
		})
		sp, servers := look(h)
		if sp["revision"] != second || !strings.Contains(fmt.Sprint(sp["error"]), "common.hcl:") {
			t.Errorf("%s after the broken commit: %v; want revision %s in force and the error naming common.hcl", h.name, sp, second)
		}
		if servers["desk"] != before[h.name]["desk"] || (h.name == "lab-2" && servers["extra"].id == "") {
			t.Errorf("%s after the broken commit: servers %v; want them as they were", h.name, servers)
		}
	}
}

// run runs argv (for at most a minute) and returns its exit code, stdout
// and stderr.
func run(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return code, stdout.String(), stderr.String()
}
