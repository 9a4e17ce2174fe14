package spec

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// MaxUsersFile bounds the size of a users file, as spec input is bounded.
const MaxUsersFile = 1 << 20

// userNameRE is the shape of an account name in a users file: what Debian's
// useradd takes without --badname, at most 32 characters.
var userNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// cryptHashRE is the shape of a crypt(3) hash as `chpasswd -e` reads it: a
// "$id$..." string with no spaces and no colon (the colon ends the field).
var cryptHashRE = regexp.MustCompile(`^\$[^\s:]+$`)

// usersFile is what loading a users file found: its content hash, and each
// line that is wrong.
type usersFile struct {
	hash     string   // "sha256:HEX" of the bytes
	accounts int      // accounts declared
	problems []string // "PATH line N: what is wrong", in line order
	err      error    // the file could not be read at all
}

// readUsersFile reads and checks the users file at path: `name:HASH` lines,
// blank lines and `#` comments. Nothing of a hash is kept or reported.
func readUsersFile(path string) usersFile {
	src, err := readRegular(path, MaxUsersFile)
	if err != nil {
		return usersFile{err: err}
	}
	out := usersFile{hash: contentHash(src)}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 4096), MaxUsersFile)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		bad := func(format string, args ...any) {
			out.problems = append(out.problems, fmt.Sprintf("%s line %d: ", path, n)+fmt.Sprintf(format, args...))
		}
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			bad("not NAME:HASH")
		case !userNameRE.MatchString(name):
			bad("%q is not a valid user name (lowercase letters, digits, _ and -, starting with a letter or _, at most 32)", name)
		case name == "root":
			bad("root may not log in over RDP; name another account")
		case !cryptHashRE.MatchString(hash):
			// Never quote the hash: it may be a password typed in clear.
			bad("the password of %q is not a crypt(3) hash (such as the output of `openssl passwd -6`): it must start with $ and hold no spaces or colons", name)
		case seen[name] > 0:
			bad("%q is already declared on line %d", name, seen[name])
		default:
			seen[name] = n
			out.accounts++
		}
	}
	return out
}

// checkUsersFile loads the users file at path once per spec (servers and
// defaults may share one) and reports what is wrong at the attribute at.
// The hosts of a fleet share the reads (usersFiles); each host's spec
// reports a bad file itself.
func (b *builder) checkUsersFile(path string, at *hcl.Range) string {
	u, done := b.usersFiles[path]
	if !done {
		u = usersFile{err: fmt.Errorf("users_file %s is not one the running spec names, and a plan request may not have other files read", path)}
		if b.mayRead == nil || b.mayRead(path) {
			u = readUsersFile(path)
		}
		if b.usersFiles == nil {
			b.usersFiles = map[string]usersFile{}
		}
		b.usersFiles[path] = u
	}
	if b.usersReported[path] {
		return u.hash
	}
	if b.usersReported == nil {
		b.usersReported = map[string]bool{}
	}
	b.usersReported[path] = true
	switch {
	case u.err != nil:
		reason := u.err.Error()
		var pe *fs.PathError
		switch {
		case errors.Is(u.err, fs.ErrNotExist):
			reason = "there is no such file"
		case errors.As(u.err, &pe):
			reason = pe.Err.Error()
		}
		b.errorAt(at, "Cannot read users file", "users_file %s: %s.", path, reason)
	case len(u.problems) > 0:
		const most = 5
		detail := strings.Join(u.problems[:min(most, len(u.problems))], ";\n")
		if len(u.problems) > most {
			detail += fmt.Sprintf(";\nand %d more", len(u.problems)-most)
		}
		b.errorAt(at, "Invalid users file", "%s.", detail)
	case u.accounts == 0:
		b.warnAt(at, "No accounts", "users_file %s declares no account, so nobody can log in with it.", path)
	}
	return u.hash
}

// contentHash is how a users file's contents are named in the config hash.
func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// UsersFileHash reads the users file at path as a load does (at most
// MaxUsersFile bytes, regular files only) and returns the hash of its
// contents, to tell whether it changed since the spec was loaded.
func UsersFileHash(path string) (string, error) {
	src, err := readRegular(path, MaxUsersFile)
	if err != nil {
		return "", err
	}
	return contentHash(src), nil
}
