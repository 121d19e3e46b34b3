package ptt

import (
	"encoding/json"
	"log/slog"
	"os"
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
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &pr); err != nil {
			log.Warn("ignoring unreadable push-to-talk settings", "file", path, "err", err)
		}
	}
	return pr
}

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
