package agent

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// folderRequest is a POST /v1/plan carrying files (name, content, name,
// content, ...) as multipart/form-data, as lucid-rdp fleet plan sends a folder.
func folderRequest(t *testing.T, files ...string) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		w, err := mw.CreateFormFile("file", files[i])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[i+1]))
	}
	mw.Close()
	r := httptest.NewRequest(http.MethodPost, "/v1/plan", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}

// TestReadSpecParts: a folder sent as parts is read as the folder would be
// from disk: its files named in the agent's spec folder and sorted by name;
// a part that is not a plain *.hcl file name, a name sent twice, or too many
// bytes are refused with a reason.
func TestReadSpecParts(t *testing.T) {
	dir := "/etc/lucid-rdp/fleet"
	files, code, err := readSpecParts(folderRequest(t, "b.hcl", "server \"b\" {}\n", "a.hcl", "host \"x\" {}\n"), dir)
	if err != nil || code != 0 {
		t.Fatalf("%d %v", code, err)
	}
	if len(files) != 2 || files[0].Name != filepath.Join(dir, "a.hcl") || files[1].Name != filepath.Join(dir, "b.hcl") || string(files[1].Src) != "server \"b\" {}\n" {
		t.Errorf("files %+v; want a.hcl then b.hcl, in %s", files, dir)
	}

	// A part's file name counts for its last element only: nothing is read
	// as if from outside the folder.
	files, _, err = readSpecParts(folderRequest(t, "../../x.hcl", "", "sub/y.hcl", ""), dir)
	if err != nil || len(files) != 2 || files[0].Name != filepath.Join(dir, "x.hcl") || files[1].Name != filepath.Join(dir, "y.hcl") {
		t.Errorf("%+v %v; want x.hcl and y.hcl in %s", files, err, dir)
	}

	big := strings.Repeat("#", spec.MaxSpecSize/2+1) + "\n"
	for _, c := range []struct {
		files []string
		code  int
		says  string
	}{
		{[]string{"notes.txt", ""}, http.StatusBadRequest, "*.hcl"},
		{[]string{".hidden.hcl", ""}, http.StatusBadRequest, "*.hcl"},
		{[]string{"a.hcl", "", "a.hcl", ""}, http.StatusBadRequest, "sent twice"},
		{[]string{"a.hcl", big, "b.hcl", big}, http.StatusRequestEntityTooLarge, "limit"},
		{nil, http.StatusBadRequest, "no *.hcl file"},
	} {
		_, code, err := readSpecParts(folderRequest(t, c.files...), dir)
		if err == nil || code != c.code || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: %d %v; want %d saying %q", c.files, code, err, c.code, c.says)
		}
	}
}
