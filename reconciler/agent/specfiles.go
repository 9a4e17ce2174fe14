package agent

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/lucid-rdp/lucid-rdp/spec"
)

// readSpec reads the spec at path: a file, or a folder of *.hcl files read as
// one (spec.ReadFiles). key holds each file's name and bytes, so that an
// unchanged key means an unchanged spec (a file renamed or removed is a
// change).
func readSpec(path string) (files []spec.File, key []byte, err error) {
	files, err = spec.ReadFiles(path)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 1 && files[0].Name == path {
		return files, files[0].Src, nil // a file: its bytes, as before folders
	}
	for _, f := range files {
		key = append(key, f.Name...)
		key = append(key, 0)
		key = strconv.AppendInt(key, int64(len(f.Src)), 10)
		key = append(key, 0)
		key = append(key, f.Src...)
	}
	return files, key, nil
}

// watchDir is the folder to watch for edits of the spec at path: the folder
// itself when the spec is one, else the file's folder (editors and git
// replace files by rename).
func watchDir(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return path
	}
	return filepath.Dir(path)
}
