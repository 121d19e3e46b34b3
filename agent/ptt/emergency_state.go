package ptt

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pttagent/pttagent/internal/regular"
	"github.com/pttagent/pttagent/wire"
)

// The standing alert is kept in state_dir/emergency.json while it stands,
// so that a handset that restarts (a battery pulled, a crash) stays in
// the emergency, reporting fast, until the user cancels it. The messages
// themselves are the outbox's (uplink/alert).

func (p *PTT) emergencyPath() string { return filepath.Join(p.o.StateDir, "emergency.json") }

// loadEmergency reads the standing alert; none when the file is missing,
// and none, logged, when it is unreadable.
func loadEmergency(path string, log *slog.Logger) emergency {
	var e emergency
	b, err := regular.Read(path, 4096, regular.NoLinks)
	if errors.Is(err, os.ErrNotExist) {
		return e
	}
	if err == nil {
		err = json.Unmarshal(b, &e)
	}
	if err == nil && (!wire.ValidEmergencyID(e.ID) || e.RaisedMs <= 0 || e.Group < 0) {
		err = errors.New("not an alert")
	}
	if err != nil {
		log.Error("ignoring an unreadable emergency state: no emergency stands", "file", path, "err", err)
		return emergency{}
	}
	return e
}

// saveEmergency writes the standing alert, or removes the file when none
// stands: a power cut leaves the old state or the new one.
func (p *PTT) saveEmergency() {
	path := p.emergencyPath()
	var err error
	if !p.em.active() {
		if err = os.Remove(path); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	} else {
		b, _ := json.Marshal(p.em)
		err = writeSynced(path, b)
	}
	if err != nil {
		p.log.Error("cannot keep the emergency state across a restart", "file", path, "err", err)
	}
}

// writeSynced replaces path atomically and durably: a temporary file,
// fsync, rename, fsync of the directory.
func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := regular.Open(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640, regular.NoLinks)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
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
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
