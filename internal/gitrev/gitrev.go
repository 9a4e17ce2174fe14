// Package gitrev says which Git commit a folder's checkout is at, by reading
// the repository's files (HEAD, loose refs, packed-refs) as Git lays them out:
// no git program is needed, so it works in the agent's distroless image too.
package gitrev

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotCheckout means no folder from dir up holds a .git.
var ErrNotCheckout = errors.New("not in a Git checkout")

// maxDepth bounds how many symbolic refs are followed.
const maxDepth = 5

// Of returns the full commit id the checkout holding dir is at: that of HEAD,
// following a branch to its commit. A folder outside any checkout gives
// ErrNotCheckout; a repository with no commit yet gives an error too.
func Of(dir string) (string, error) {
	gitDir, err := find(dir)
	if err != nil {
		return "", err
	}
	common := gitDir
	// A linked worktree keeps its own HEAD and the shared refs in commondir.
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", err
	}
	ref := strings.TrimSpace(string(head))
	for range maxDepth {
		name, symbolic := strings.CutPrefix(ref, "ref: ")
		if !symbolic {
			if !isID(ref) {
				return "", errors.New("HEAD is neither a commit id nor a ref: " + ref)
			}
			return ref, nil
		}
		ref, err = resolve(gitDir, common, strings.TrimSpace(name))
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("symbolic refs nest too deep")
}

// find returns the Git folder of the checkout holding dir: dir/.git, or that
// of a parent; a .git file ("gitdir: PATH", in worktrees and submodules)
// names it.
func find(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p, nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			target, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return "", errors.New(p + " is not a gitdir file")
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(dir, target)
			}
			return target, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotCheckout
		}
		dir = parent
	}
}

// resolve reads ref (such as refs/heads/main): a loose ref file, in the
// worktree's folder for its own refs and in the common one for shared ones,
// else packed-refs. It returns what the ref holds: a commit id, or
// "ref: ..." for a symbolic one.
func resolve(gitDir, common, ref string) (string, error) {
	if strings.Contains(ref, "..") {
		return "", errors.New("a ref with ..: " + ref)
	}
	for _, d := range []string{gitDir, common} {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	f, err := os.Open(filepath.Join(common, "packed-refs"))
	if err != nil {
		return "", errors.New(ref + " has no commit yet")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ID REF", with "# pack-refs ..." and "^ID" (a tag's commit) lines between.
		id, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref && isID(id) {
			return id, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New(ref + " has no commit yet")
}

// isID reports whether s is a full commit id (SHA-1 or SHA-256 hex).
func isID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
