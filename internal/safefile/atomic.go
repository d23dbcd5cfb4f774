package safefile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomic replaces the file at path with data so that a crash at any
// point leaves either the old content or the new one, never a mix: data
// goes to path+".tmp" (created safely, mode 0600), is synced, renamed over
// path, and the folder is synced.
func WriteAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := Create(tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
