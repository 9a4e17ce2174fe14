package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File is one file of a spec as read: its name as diagnostics show it, and
// its bytes.
type File struct {
	// Name is the path the file was read under: the spec path itself for a
	// one-file spec, FOLDER/NAME.hcl for a folder's.
	Name string
	// Src holds the file's bytes.
	Src []byte
}

// MaxFiles is the most *.hcl files a spec folder may hold.
const MaxFiles = 256

// ReadFiles reads the spec at path. A file is read as it is (ReadFile); a
// folder means its *.hcl files (SpecFiles), read together as one spec of at
// most MaxSpecSize bytes in all. A folder without any is an error, never a
// spec of nothing.
func ReadFiles(path string) ([]File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		src, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []File{{Name: path, Src: src}}, nil
	}
	names, err := SpecFiles(path)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s holds no *.hcl file", path)
	}
	files := make([]File, 0, len(names))
	total := 0
	for _, name := range names {
		src, err := readRegular(name, MaxSpecSize-total)
		if err != nil {
			if st, serr := os.Stat(name); serr == nil && st.Mode().IsRegular() && int(st.Size()) > MaxSpecSize-total {
				return nil, fmt.Errorf("the *.hcl files of %s are larger than %d bytes together, the limit", path, MaxSpecSize)
			}
			return nil, err
		}
		total += len(src)
		files = append(files, File{Name: name, Src: src})
	}
	return files, nil
}

// SpecFiles lists the spec files of the folder dir, by name: its *.hcl files,
// not those of folders inside it, and not hidden files or editors' temporary
// and lock files (names that begin with ".", "#" or "~"). The names are
// dir joined with each file's name. More than MaxFiles is an error.
func SpecFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !IsSpecFileName(n) || e.IsDir() {
			continue
		}
		names = append(names, filepath.Join(dir, n))
	}
	if len(names) > MaxFiles {
		return nil, fmt.Errorf("%s holds %d *.hcl files; the limit is %d", dir, len(names), MaxFiles)
	}
	return names, nil
}

// IsSpecFileName reports whether a file called name, in a spec folder, is
// one of the spec's: a *.hcl file, not hidden and not an editor's temporary
// or lock file (names that begin with ".", "#" or "~").
func IsSpecFileName(name string) bool {
	return strings.HasSuffix(name, ".hcl") && !strings.ContainsAny(name[:1], ".#~")
}

// Sources maps each file's name to its bytes, as WriteDiagnostics takes them.
func Sources(files []File) map[string][]byte {
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Name] = f.Src
	}
	return m
}

// joinSources is the bytes of a one-host spec: a single file's own bytes (so
// its spec hash is what it was before folders), or a folder's files one after
// another, each starting on a line of its own.
func joinSources(files []File) []byte {
	if len(files) == 1 {
		return files[0].Src
	}
	var out []byte
	for _, f := range files {
		out = append(out, f.Src...)
		if len(f.Src) > 0 && f.Src[len(f.Src)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out
}
