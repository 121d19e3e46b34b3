package agent

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
)

// newSync builds the platform sync for cfg, or nil with platform.dialect
// none. It loads the persisted model at once, so the reporter starts with
// the platform's last known settings, not the file's.
func (a *Agent) newSync(cfg *config.Config) (*platformsync.Engine, error) {
	p := cfg.Platform
	if p.Dialect == "none" || p.Dialect == "" {
		return nil, nil
	}
	log := a.log.With("part", "platform")
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: p.BaseURL, Timeout: p.RequestTimeout.D(), CAFile: p.CAFile,
		Logger: log})
	if err != nil {
		return nil, err
	}
	account := p.Account
	if account == "" {
		account = cfg.Device.Account
	}
	var pw string
	if cfg.Secrets.PlatformPassword != "" {
		pw = corp.HashPassword(cfg.Secrets.PlatformPassword)
	}
	var client platform.Client
	switch p.Dialect {
	case "corp":
		client = &corp.Client{HTTP: h, Account: account, Password: pw, Method: p.Login, Logger: log}
	case "wapi":
		client = &wapi.Client{HTTP: h, Account: account, Password: pw, Token: cfg.Secrets.PlatformToken, Logger: log}
	default:
		return nil, fmt.Errorf("platform.dialect %q", p.Dialect)
	}
	e := &platformsync.Engine{Client: client, Dialect: p.Dialect, Account: account,
		StatePath: filepath.Join(cfg.StateDir, "platform.json"), Poll: p.Poll.D(), MQTT: a.mqtt,
		OnChange: a.platformChanged, Logger: log}
	if p.Events {
		e.EventTopic = a.topics.Event()
	}
	e.Load()
	return e, nil
}

// initialTrackSettings are the reporter's settings at start: the
// platform's last known ones when there are any, else the config file's.
func (a *Agent) initialTrackSettings() track.Settings {
	s := track.Settings{LocShare: a.cfg.Tracks.LocShare, Track: a.cfg.Tracks.Track}
	if m := a.Model(); m != nil && m.Self.HasSettings {
		s = track.Settings{LocShare: m.Self.LocShare, Track: m.Self.Track}
	}
	return s
}

// platformChanged is the sync's OnChange: the platform's loc_share and
// track drive the reporter at once; the member's state is logged (push-to-talk
// reads it through Model).
func (a *Agent) platformChanged(old, m *platform.Model) {
	if m.Self.HasSettings && (old == nil || !old.Self.HasSettings || old.Self.LocShare != m.Self.LocShare || old.Self.Track != m.Self.Track) {
		a.reporter.Apply(track.Settings{LocShare: m.Self.LocShare, Track: m.Self.Track})
	}
	if old == nil || old.Self.State != m.Self.State {
		if m.Self.State.CanTalk() {
			a.log.Info("member state", "state", m.Self.State)
		} else {
			a.log.Warn("member state: push-to-talk is not allowed", "state", m.Self.State)
		}
	}
}

// Sync is the platform sync engine, nil with platform.dialect none.
func (a *Agent) Sync() *platformsync.Engine { return a.sync }

// Model is what the platform last said about this member and its groups
// (nil before the first sync and without a platform). Push-to-talk reads
// the member state, the groups' floor rules and this member's permissions
// here; it is never modified, Sync().Watch() says when it is replaced.
func (a *Agent) Model() *platform.Model {
	if a.sync == nil {
		return nil
	}
	return a.sync.Model()
}

// PlatformStatus is the platform part of Status.
type PlatformStatus struct {
	Dialect     string    `json:"dialect"`
	State       string    `json:"state,omitempty"` // the member's state; "" before any sync
	MemberID    int64     `json:"member_id,omitempty"`
	Name        string    `json:"name,omitempty"`
	TTS         bool      `json:"tts"`
	LocShare    bool      `json:"loc_share"`
	Track       int       `json:"track"`
	Groups      []string  `json:"groups"`
	ActiveGroup int64     `json:"active_group,omitempty"`
	FromDisk    bool      `json:"from_disk"` // the state in use was loaded at boot and not yet confirmed
	LastSync    time.Time `json:"last_sync,omitzero"`
	Fetched     time.Time `json:"fetched,omitzero"` // when the platform last confirmed the state in use
	LastError   string    `json:"last_error,omitempty"`
	Events      int       `json:"events"`
	Duplicates  int       `json:"duplicates"`
}

func (a *Agent) platformStatus() *PlatformStatus {
	if a.sync == nil {
		return nil
	}
	st := a.sync.Stats()
	ps := &PlatformStatus{Dialect: a.cfg.Platform.Dialect, FromDisk: st.FromDisk, LastSync: st.LastSync,
		LastError: st.LastError, Events: st.Events, Duplicates: st.Duplicates, Groups: []string{}}
	if m := a.sync.Model(); m != nil {
		ps.State, ps.MemberID, ps.Name = string(m.Self.State), m.Self.ID, m.Self.Name
		ps.TTS, ps.LocShare, ps.Track = m.Self.TTS, m.Self.LocShare, m.Self.Track
		ps.Fetched = m.Fetched
		for _, g := range m.Groups {
			ps.Groups = append(ps.Groups, fmt.Sprintf("%s (%d)", g.Name, g.ID))
		}
		ps.ActiveGroup = a.sync.Active()
	}
	return ps
}
