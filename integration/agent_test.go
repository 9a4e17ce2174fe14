package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lucid-rdp/lucid-rdp/drivers/docker"
)

// syncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runningAgent is a `lucid-rdp agent` process under test.
type runningAgent struct {
	cmd   *exec.Cmd
	url   string
	token string // sent when a request names none: the agent's API beyond loopback needs it
	logs  *syncBuffer
	done  chan struct{}
}

// agentBlock returns the agent block for h's spec with the API on port.
func (h *host) agentBlock(port int, extra string) string {
	return fmt.Sprintf("agent {\n  state_dir = %q\n  listen    = \"127.0.0.1:%d\"\n  resync    = \"1h\"\n%s}\n\n", filepath.Join(h.dir, "state"), port, extra)
}

// writeRaw replaces lucid-rdp.hcl in place (truncate and write).
func (h *host) writeRaw(src string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, "lucid-rdp.hcl"), []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// renameRaw replaces lucid-rdp.hcl by writing a temp file and renaming it over,
// as vim and git do.
func (h *host) renameRaw(src string) {
	h.t.Helper()
	tmp := filepath.Join(h.dir, ".lucid-rdp.hcl.swp")
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, "lucid-rdp.hcl")); err != nil {
		h.t.Fatal(err)
	}
}

// startAgent starts the agent on the spec as it is and waits until it is ready.
func (h *host) startAgent(apiPort int) *runningAgent {
	h.t.Helper()
	return h.startAgentWithin(apiPort, 10*time.Second)
}

// startAgentWithin starts the agent and waits up to limit until it is ready.
func (h *host) startAgentWithin(apiPort int, limit time.Duration) *runningAgent {
	h.t.Helper()
	return h.startAgentCmd(apiPort, limit, exec.Command(bin, "agent", "-config", filepath.Join(h.dir, "lucid-rdp.hcl")))
}

// startAgentCmd starts cmd, an agent command line of the test's own making
// (as a unit file says, in a control group), and waits up to limit until the
// agent is ready.
func (h *host) startAgentCmd(apiPort int, limit time.Duration, cmd *exec.Cmd) *runningAgent {
	h.t.Helper()
	return startAgentAt(h.t, "http://127.0.0.1:"+strconv.Itoa(apiPort), "", limit, cmd)
}

// startAgentAt starts cmd, an agent whose API answers at url (with token,
// when not on loopback), and waits up to limit until it is ready. The agent
// is stopped when the test ends.
func startAgentAt(t *testing.T, url, token string, limit time.Duration, cmd *exec.Cmd) *runningAgent {
	t.Helper()
	a := &runningAgent{url: url, token: token, logs: &syncBuffer{}, done: make(chan struct{}), cmd: cmd}
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	a.cmd.Env = append(os.Environ(), "LUCID_RDP_LOG_LEVEL=debug")
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.stop(t)
		if t.Failed() {
			t.Logf("agent pid %d (%s) log:\n%s", a.cmd.Process.Pid, url, a.logs.String())
		}
	})
	waitFor(t, limit, "the agent at "+url+" to be ready", func() bool {
		select {
		case <-a.done:
			t.Fatalf("agent exited:\n%s", a.logs.String())
		default:
		}
		code, _ := a.get(t, "/ready", "")
		return code == http.StatusOK
	})
	return a
}

// stop sends SIGTERM and waits for the agent to exit.
func (a *runningAgent) stop(t *testing.T) {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		_ = a.cmd.Process.Kill()
		t.Error("agent did not stop within 10s of SIGTERM")
	}
}

func (a *runningAgent) get(t *testing.T, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.url+path, nil)
	if token == "" {
		token = a.token
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (a *runningAgent) status(t *testing.T) map[string]any {
	t.Helper()
	code, body := a.get(t, "/v1/status", "")
	if code != http.StatusOK {
		t.Fatalf("/v1/status: %d %s", code, body)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// listed returns the entry called name in /v1/status's list ("servers" or
// "alerts"), and whether there is one: a check of an entry must fail when
// the entry is missing, not pass by never running.
func (a *runningAgent) listed(t *testing.T, list, name string) (map[string]any, bool) {
	t.Helper()
	entries, _ := a.status(t)[list].([]any)
	for _, x := range entries {
		if e := x.(map[string]any); e["name"] == name {
			return e, true
		}
	}
	return nil, false
}

func (a *runningAgent) metric(t *testing.T, name string) string {
	t.Helper()
	_, body := a.get(t, "/metrics", "")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// TestAgentFollowsEdits: a rename save, an in-place write and a `git checkout`
// each converge the host without any command.
func TestAgentFollowsEdits(t *testing.T) {
	need(t, "git")
	h := newHost(t)
	api := freePort(t)
	agentBlock := h.agentBlock(api, "")
	spec := func(body string) string {
		for i := 19; i >= 0; i-- {
			body = strings.ReplaceAll(body, "PORT+"+strconv.Itoa(i), strconv.Itoa(h.base+i))
		}
		return agentBlock + body
	}
	h.writeRaw(spec("server \"a\" {\n  port = PORT+1\n}\n"))
	a := h.startAgent(api)
	up(t, h.base+1)

	// 1. Rename over the file, as vim and git do.
	h.renameRaw(spec("server \"a\" {\n  port = PORT+1\n}\n\nserver \"b\" {\n  port = PORT+2\n}\n"))
	waitFor(t, 5*time.Second, "b after a rename save", func() bool { return probeOK(h.base + 2) })

	// 2. Write in place (truncate + write, as `sed -i`-less editors and `>` do).
	h.writeRaw(spec("server \"a\" {\n  port = PORT+1\n}\n\nserver \"b\" {\n  port = PORT+3\n}\n"))
	waitFor(t, 5*time.Second, "b on its new port after an in-place write", func() bool { return probeOK(h.base+3) && !listening(t, h.base+2) })

	// 3. git checkout of another commit.
	git := func(args ...string) {
		t.Helper()
		gitIn(t, h.dir, args...)
	}
	git("init", "-q")
	git("add", "lucid-rdp.hcl")
	git("commit", "-qm", "two servers")
	h.writeRaw(spec("server \"a\" {\n  port = PORT+1\n}\n\nserver \"c\" {\n  port = PORT+4\n}\n"))
	git("commit", "-qam", "c instead of b")
	waitFor(t, 5*time.Second, "c", func() bool { return probeOK(h.base + 4) })
	git("checkout", "-q", "HEAD~1")
	waitFor(t, 5*time.Second, "b back after git checkout", func() bool {
		return probeOK(h.base+3) && !listening(t, h.base+4)
	})
	if st := a.status(t); st["spec"].(map[string]any)["error"] != nil {
		t.Errorf("spec error after good edits: %v", st["spec"])
	}
}

// TestAgentKeepsLastGoodSpec: a broken edit changes nothing on the host, flips
// the reload gauge to 0 and shows the error in /v1/status; fixing it recovers.
func TestAgentKeepsLastGoodSpec(t *testing.T) {
	h := newHost(t)
	api := freePort(t)
	good := h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n", h.base+1)
	h.writeRaw(good)
	a := h.startAgent(api)
	pid := h.record("a").PID
	if got := a.metric(t, "lucid_rdp_spec_last_reload_successful"); got != "1" {
		t.Fatalf("reload gauge %q at start", got)
	}

	h.writeRaw(h.agentBlock(api, "") + "server \"a\" {\n  port = 0\n") // broken twice over
	waitFor(t, 5*time.Second, "the reload gauge to drop", func() bool {
		return a.metric(t, "lucid_rdp_spec_last_reload_successful") == "0"
	})
	st := a.status(t)
	errText, _ := st["spec"].(map[string]any)["error"].(string)
	if !strings.Contains(errText, "lucid-rdp.hcl:") {
		t.Errorf("status spec.error does not name file and line: %q", errText)
	}
	time.Sleep(200 * time.Millisecond)
	if h.record("a").PID != pid || !probeOK(h.base+1) {
		t.Fatal("a broken edit touched the host")
	}

	fixed := h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n\nserver \"b\" {\n  port = %d\n}\n", h.base+1, h.base+2)
	h.writeRaw(fixed)
	waitFor(t, 5*time.Second, "recovery after the fix", func() bool {
		return probeOK(h.base+2) && a.metric(t, "lucid_rdp_spec_last_reload_successful") == "1"
	})
	if h.record("a").PID != pid {
		t.Error("a was restarted by an unrelated fix")
	}
}

// TestAgentRestoresKilledListener: kill -9 a listener and a new one answers.
func TestAgentRestoresKilledListener(t *testing.T) {
	h := newHost(t)
	api := freePort(t)
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n", h.base+1))
	a := h.startAgent(api)
	old := h.record("a").PID
	killed := time.Now()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a new listener", func() bool {
		r := h.record("a")
		return r.PID != old && probeOK(h.base+1)
	})
	t.Logf("kill -9 -> new listener answering in %v", time.Since(killed))
	waitFor(t, 2*time.Second, "the restart to be counted", func() bool {
		return a.metric(t, `lucid_rdp_server_restarts_total{server="a"}`) == "1"
	})
}

// TestAgentStopLeavesServers: SIGTERM stops the agent and leaves the servers; a
// new agent adopts them without restarting any.
func TestAgentStopLeavesServers(t *testing.T) {
	h := newHost(t)
	api := freePort(t)
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n\nserver \"b\" {\n  port = %d\n}\n", h.base+1, h.base+2))
	a := h.startAgent(api)
	pids := []int{h.record("a").PID, h.record("b").PID}
	a.stop(t)
	up(t, h.base+1)
	up(t, h.base+2)

	a2 := h.startAgent(api)
	if got := []int{h.record("a").PID, h.record("b").PID}; got[0] != pids[0] || got[1] != pids[1] {
		t.Errorf("pids %v after restart; want %v", got, pids)
	}
	if !strings.Contains(a2.logs.String(), "agent started") || strings.Contains(a2.logs.String(), "action=create") {
		t.Errorf("the new agent recreated servers:\n%s", a2.logs.String())
	}
	// And it watches the adopted listeners: a kill -9 is seen at once.
	old := pids[0]
	_ = syscall.Kill(old, syscall.SIGKILL)
	waitFor(t, 5*time.Second, "the adopted listener to be restored", func() bool {
		return h.record("a").PID != old && probeOK(h.base+1)
	})
}

// TestAgentTokenOffLoopback: listening beyond loopback needs token_file
// (validation refuses it otherwise), and then every endpoint but /health wants
// the bearer token.
func TestAgentTokenOffLoopback(t *testing.T) {
	h := newHost(t)
	api := freePort(t)
	noToken := fmt.Sprintf("agent {\n  state_dir = %q\n  listen    = \"0.0.0.0:%d\"\n}\n", filepath.Join(h.dir, "state"), api)
	h.writeRaw(noToken)
	if code, out := h.run("validate"); code != 1 || !strings.Contains(out, "Missing token_file") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	if code, out := h.run("agent"); code != 1 || !strings.Contains(out, "Missing token_file") {
		t.Fatalf("agent started without a token: exit %d\n%s", code, out)
	}

	tokenFile := filepath.Join(h.dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.writeRaw(fmt.Sprintf("agent {\n  state_dir  = %q\n  listen     = \"0.0.0.0:%d\"\n  token_file = %q\n}\n", filepath.Join(h.dir, "state"), api, tokenFile))
	a := &runningAgent{url: "http://127.0.0.1:" + strconv.Itoa(api), logs: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(bin, "agent", "-config", filepath.Join(h.dir, "lucid-rdp.hcl"))
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	defer a.stop(t)
	waitFor(t, 10*time.Second, "the agent's health", func() bool { code, _ := a.get(t, "/health", ""); return code == 200 })
	if code, _ := a.get(t, "/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("/v1/status without a token: %d; want 401", code)
	}
	if code, _ := a.get(t, "/v1/status", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("/v1/status with a wrong token: %d; want 401", code)
	}
	if code, body := a.get(t, "/v1/status", "s3cret-token"); code != http.StatusOK {
		t.Errorf("/v1/status with the token: %d %s", code, body)
	}
	if code, _ := a.get(t, "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d; want 401", code)
	}
}

// TestAgentAPI: plan endpoints change nothing; reload answers; status and
// sessions commands read the agent.
func TestAgentAPI(t *testing.T) {
	h := newHost(t)
	api := freePort(t)
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"a\" {\n  port = %d\n}\n", h.base+1))
	a := h.startAgent(api)

	code, body := a.get(t, "/v1/plan", "")
	if code != 200 || !strings.Contains(body, `"changes": []`) {
		t.Errorf("GET /v1/plan: %d %s", code, body)
	}
	post := func(src string) (int, string) {
		resp, err := http.Post(a.url+"/v1/plan", "text/plain", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body = post(fmt.Sprintf("server \"z\" {\n  port = %d\n}\n", h.base+5))
	if code != 200 || !strings.Contains(body, `"action": "create"`) || !strings.Contains(body, `"action": "delete"`) {
		t.Errorf("POST /v1/plan: %d %s", code, body)
	}
	if listening(t, h.base+5) || !probeOK(h.base+1) {
		t.Error("POST /v1/plan changed the host")
	}
	code, body = post("server \"z\" {\n  port = 0\n}\n")
	if code != 400 || !strings.Contains(body, `"valid": false`) {
		t.Errorf("POST /v1/plan with a bad spec: %d %s", code, body)
	}

	resp, err := http.Post(a.url+"/v1/reload", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("POST /v1/reload: %v %v", resp, err)
	}

	out, err := exec.Command(bin, "status", "-addr", a.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERVER") || !strings.Contains(string(out), "a  ") || !strings.Contains(string(out), " up ") {
		t.Errorf("lucid-rdp status: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "sessions", "-addr", a.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No live sessions.") {
		t.Errorf("lucid-rdp sessions: %v\n%s", err, out)
	}
}

// TestAgentFollowsUsersFileEdit: an edit of a docker server's users file alone
// (the spec's bytes stay the same) replaces the server, since the container
// applies its accounts at start.
func TestAgentFollowsUsersFileEdit(t *testing.T) {
	h, cli := dockerHost(t)
	users := filepath.Join(h.dir, "kiosk.users")
	if err := os.WriteFile(users, []byte("alice:"+cryptHash(t, "one")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := h.base + 19
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf(`
server "kiosk" {
  driver     = "docker"
  image      = %q
  port       = %d
  users_file = "kiosk.users"
}
`, responderImage, h.base+1))
	h.startAgent(api)
	name := docker.ContainerName("kiosk")
	var first []string
	waitFor(t, 20*time.Second, "the kiosk container", func() bool {
		first = containersNamed(t, cli, name)
		return len(first) == 1 && probeOK(h.base+1)
	})
	if err := os.WriteFile(users, []byte("alice:"+cryptHash(t, "two")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the kiosk to be replaced", func() bool {
		now := containersNamed(t, cli, name)
		return len(now) == 1 && now[0] != first[0] && probeOK(h.base+1)
	})
}

// TestOneAgentPerStateFolder: the agent holds its state folder for its life; a
// second agent and an apply by hand are refused, naming the holder.
func TestOneAgentPerStateFolder(t *testing.T) {
	h := newHost(t)
	api := h.base + 19
	h.writeRaw(h.agentBlock(api, "") + fmt.Sprintf("server \"s\" {\n  port = %d\n}\n", h.base+1))
	a := h.startAgent(api)
	holder := fmt.Sprintf("lucid-rdp pid %d", a.cmd.Process.Pid)

	// Bounded: a second agent that is not refused would run until killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, "agent", "-config", filepath.Join(h.dir, "lucid-rdp.hcl"))
	second.Env = append(os.Environ(), "LUCID_RDP_CONFIG=")
	out, err := second.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("a second agent on the folder was not refused; it ran until killed:\n%s", out)
	}
	if err == nil || !strings.Contains(string(out), holder) {
		t.Fatalf("a second agent on the folder: %v\n%s", err, out)
	}
	code, text := h.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !strings.Contains(text, holder) {
		t.Fatalf("apply beside the agent: exit %d\n%s", code, text)
	}
	if !probeOK(h.base + 1) {
		t.Error("the agent's server went down")
	}
}
