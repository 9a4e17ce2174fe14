// Package atomicfile replaces files so that a reader, or a crash, sees either the
// old content or the new, never a mix: temp file in the same folder, fsync,
// rename, fsync of the folder.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, with the given permissions, durably: after
// a crash the file holds the old data or the new.
func Write(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, true)
}

// Replace replaces path with data so that a reader never sees a mix, without
// waiting for the disk: for files rendered again from the spec whenever they
// are needed (xrdp.ini, sesman.ini), where a crash may lose the new content.
func Replace(path string, data []byte, mode os.FileMode) error {
	return write(path, data, mode, false)
}

func write(path string, data []byte, mode os.FileMode, durable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil && durable {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}
