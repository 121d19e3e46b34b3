package platformsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pttagent/pttagent/internal/regular"
	"github.com/pttagent/pttagent/platform"
)

// stateFile is the persisted form; V lets a later agent read an older file.
type stateFile struct {
	V     int             `json:"v"`
	Model *platform.Model `json:"model"`
}

// maxStateFile bounds what load reads: a damaged file must not exhaust memory.
const maxStateFile = 32 << 20

// save writes the model so that a power cut leaves either the old file or
// the new one: temp file, fsync, rename, fsync of the directory.
func save(path string, m *platform.Model) error {
	if path == "" {
		return nil
	}
	data, err := json.MarshalIndent(stateFile{V: 1, Model: m}, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".platform-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// load reads a persisted model; (nil, nil) when there is none. Only a
// regular file is read: opening a FIFO put in its place would wait for a
// writer forever and hold up the start, so the file is opened without
// blocking and refused unless regular.
func load(path, dialect, account string) (*platform.Model, error) {
	if path == "" {
		return nil, nil
	}
	data, err := regular.Read(path, maxStateFile, regular.NoLinks)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeState(data, dialect, account)
}

// decodeState checks a persisted model as strictly as a platform answer:
// the file may be damaged, truncated or written by someone else.
func decodeState(data []byte, dialect, account string) (*platform.Model, error) {
	var sf stateFile
	if err := json.Unmarshal(data, &sf); err != nil {
		return nil, fmt.Errorf("damaged: %w", err)
	}
	if sf.V != 1 || sf.Model == nil {
		return nil, fmt.Errorf("version %d not supported", sf.V)
	}
	m := sf.Model
	if dialect != "" && m.Dialect != dialect {
		return nil, fmt.Errorf("written for platform dialect %q, configured %q", m.Dialect, dialect)
	}
	if account != "" && m.Account != account {
		return nil, fmt.Errorf("written for account %q, configured %q", m.Account, account)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	m.Normalize()
	return m, nil
}
