package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// sameFiles reports whether two reads of a spec found the same files (by
// name: a file renamed or removed is a change) with the same bytes.
func sameFiles(a, b []spec.File) bool {
	return slices.EqualFunc(a, b, func(x, y spec.File) bool { return x.Name == y.Name && bytes.Equal(x.Src, y.Src) })
}

// watchDir is the folder to watch for edits of the spec at path: the folder
// itself when the spec is one, else the file's folder (editors and git
// replace files by rename). It is also where revisionOf looks for a checkout.
func watchDir(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return path
	}
	return filepath.Dir(path)
}
