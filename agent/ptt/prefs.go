package ptt

import (
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"

	"github.com/pttagent/pttagent/internal/regular"
)

// prefs are the user's choices kept across reboots, in
// state_dir/ptt.json.
type prefs struct {
	ActiveGroup int64 `json:"active_group"`
	Volume      int   `json:"volume,omitempty"`
}

// loadPrefs reads path; a missing or unreadable file means no choices
// yet (an unreadable one is logged).
func loadPrefs(path string, log *slog.Logger) prefs {
	var pr prefs
	// Only a regular file: a FIFO in its place once hung the start-up
	// (deaf to SIGTERM).
	b, err := regular.Read(path, maxStateFile, regular.NoLinks)
	if err == nil {
		err = json.Unmarshal(b, &pr)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("ignoring unreadable push-to-talk settings", "file", path, "err", err)
	}
	return pr
}

// maxStateFile bounds push-to-talk's own small state files (ptt.json,
// messages.json).
const maxStateFile = 64 << 10

// savePrefs writes the choices atomically: a power cut leaves the old
// file or the new one.
func (p *PTT) savePrefs() {
	path := p.prefsPath()
	b, _ := json.Marshal(p.prefs)
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		p.log.Warn("cannot keep the active group and volume across reboots", "file", path, "err", err)
	}
}
