package agent

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hashicorp/hcl/v2"

	"github.com/lucid-rdp/lucid-rdp/drivers"
	"github.com/lucid-rdp/lucid-rdp/spec"
)

// maxSpecBody bounds POST /v1/plan bodies.
const maxSpecBody = spec.MaxSpecSize

// planDeadline bounds the work of one POST /v1/plan, and planSlots how many
// are answered at once: the endpoint needs no token on loopback.
const (
	planDeadline = 30 * time.Second
	planSlots    = 2
)

// Handler returns the agent's HTTP API and, at GET /, its status page for
// people. When agent.listen is not a loopback address every endpoint but
// /health needs the token from agent.token_file, either as
// "Authorization: Bearer TOKEN" or as the password of HTTP Basic auth (any
// user name: that is what a browser can send for the page and the page's own
// requests). A request without it is answered 401 with a Bearer challenge, and
// on / a Basic one too, so that a browser asks for the token.
//
// Browsers resend Basic credentials by themselves, so requests that change
// something (POST) from another origin's page are refused (403) on every
// address: a page elsewhere cannot make the agent reload or plan.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.servePage)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		ready := a.ready
		a.mu.Unlock()
		if !ready {
			http.Error(w, "not ready: the first reconcile has not finished", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("GET /v1/plan", func(w http.ResponseWriter, r *http.Request) {
		p, _, err := a.rec.Plan(r.Context(), a.current())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /v1/plan", a.postPlan)
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Reload(r.Context()); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, a.Status())
	})
	mux.HandleFunc("GET /v1/sessions", a.getSessions)
	return http.NewCrossOriginProtection().Handler(a.auth(mux))
}

// postPlan answers the plan of the HCL spec in the body against this host,
// changing nothing. The agent block of the running spec applies, whatever the
// body says: a request may not point the agent at another state folder.
func (a *Agent) postPlan(w http.ResponseWriter, r *http.Request) {
	select {
	case a.planSlots <- struct{}{}:
		defer func() { <-a.planSlots }()
	default:
		http.Error(w, "busy: two plan requests are already being answered; try again", http.StatusTooManyRequests)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), planDeadline)
	defer cancel()
	r = r.WithContext(ctx)
	cur := a.current()
	var files []spec.File // a folder sent whole, as multipart/form-data
	var body []byte       // else the body is one HCL file
	var err error
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		// The files' bytes are counted as they are read; this bounds the
		// rest (part headers, preamble) too.
		r.Body = http.MaxBytesReader(w, r.Body, maxSpecBody+spec.MaxFiles<<10)
		var code int
		if files, code, err = readSpecParts(r, cur.Dir); err != nil {
			http.Error(w, err.Error(), code)
			return
		}
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxSpecBody+1))
		if err != nil {
			http.Error(w, "reading the spec: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxSpecBody {
			http.Error(w, fmt.Sprintf("the spec is over %d bytes, the limit", maxSpecBody), http.StatusRequestEntityTooLarge)
			return
		}
	}
	named := map[string]bool{} // the users files the operator's own spec names
	for _, srv := range cur.Servers {
		if srv.UsersFile != "" {
			named[srv.UsersFile] = true
		}
	}
	var s *spec.Spec
	var diags hcl.Diagnostics
	var out []byte
	niced(func() {
		mayRead := func(path string) bool { return named[path] }
		if files != nil {
			s, diags = spec.ParseRequestFiles(cur.Dir, files, mayRead)
		} else {
			s, diags = spec.ParseRequest(filepath.Join(cur.Dir, "request.hcl"), body, mayRead)
		}
		if diags.HasErrors() {
			out, _ = spec.DiagnosticsJSONFirst(diags, spec.MaxShownDiagnostics)
		}
	})
	if diags.HasErrors() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(out)
		return
	}
	s.Agent = cur.Agent
	p, _, err := a.rec.Plan(r.Context(), s)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// readSpecParts reads a spec folder sent as multipart/form-data: one part
// per *.hcl file, its file name the file's name in the folder (of a path,
// only the last element counts).
// The files are named as if they were in dir, the folder of the agent's own
// spec, so relative paths in them resolve as in the agent's spec; they are
// sorted by name, the order a folder is read in. The same limits hold as for
// a folder on disk: spec.MaxFiles files of spec.MaxSpecSize bytes together.
func readSpecParts(r *http.Request, dir string) ([]spec.File, int, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("reading the spec folder: %w", err)
	}
	var files []spec.File
	seen := map[string]bool{}
	left := maxSpecBody
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("reading the spec folder: %w", err)
		}
		name := part.FileName() // the last element only: never a path out of dir
		switch {
		case !spec.IsSpecFileName(name):
			return nil, http.StatusBadRequest, fmt.Errorf("part %q: each part must be a *.hcl file, as a folder's spec files are", name)
		case seen[name]:
			return nil, http.StatusBadRequest, fmt.Errorf("file %s is sent twice", name)
		case len(files) == spec.MaxFiles:
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the spec folder holds over %d *.hcl files, the limit", spec.MaxFiles)
		}
		seen[name] = true
		src, err := io.ReadAll(io.LimitReader(part, int64(left)+1))
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("reading %s: %w", name, err)
		}
		if len(src) > left {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("the spec folder's files are over %d bytes together, the limit", maxSpecBody)
		}
		left -= len(src)
		files = append(files, spec.File{Name: filepath.Join(dir, name), Src: src})
	}
	if len(files) == 0 {
		return nil, http.StatusBadRequest, errors.New("the spec folder holds no *.hcl file")
	}
	slices.SortFunc(files, func(a, b spec.File) int { return strings.Compare(a.Name, b.Name) })
	return files, 0, nil
}

// getSessions answers the sessions a pass found, from a pass that began after
// the request (waiting up to 2 s for it), so a login a moment ago shows; a busy
// loop answers with the last pass's.
func (a *Agent) getSessions(w http.ResponseWriter, r *http.Request) {
	a.freshPass(r.Context(), 2*time.Second)
	out := []drivers.Session{}
	for _, srv := range a.Status().Servers {
		out = append(out, srv.SessionList...)
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// auth requires the token when the API listens beyond loopback: as a bearer
// token or as a Basic auth password, compared in constant time.
func (a *Agent) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := a.current()
		if r.URL.Path == "/health" || isLoopback(s.Agent.Listen) {
			next.ServeHTTP(w, r)
			return
		}
		token, err := readToken(s.Agent.TokenFile)
		if err != nil {
			a.log.Error("token_file unreadable; refusing API requests", "error", err)
			http.Error(w, "the agent's token_file is unreadable", http.StatusInternalServerError)
			return
		}
		if got, ok := presentedToken(r); !ok || !sameToken(got, token) {
			if r.URL.Path == "/" {
				w.Header().Add("WWW-Authenticate", `Basic realm="lucid-rdp", charset="UTF-8"`)
			}
			w.Header().Add("WWW-Authenticate", `Bearer realm="lucid-rdp"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// presentedToken returns the token r carries: a bearer token, or the
// password of Basic auth, whatever the user name.
func presentedToken(r *http.Request) (string, bool) {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return got, true
	}
	if _, password, ok := r.BasicAuth(); ok {
		return password, true
	}
	return "", false
}

// sameToken compares in constant time, lengths included: both sides are
// hashed first, so a wrong guess does not tell the token's length either.
func sameToken(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// readToken reads a bearer token file; an empty token is an error.
func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return t, nil
}

func isLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
