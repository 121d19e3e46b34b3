package agent

import (
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/platform"
)

// platformChanged is the sync's OnChange: the platform's loc_share and
// track drive the reporter at once — unless the platform has withdrawn
// the handset in a way that stops its tracks too —; the member's state is
// logged, and a withdrawal (member deleted, terminal unbound or in
// repair, user disabled, stunned or killed) is health's Deprovisioned,
// with the reason. Push-to-talk reads the same model through Model.
func (a *Agent) platformChanged(old, m *platform.Model) {
	if was, now := a.trackSettings(old), a.trackSettings(m); old == nil || was != now {
		a.p.Tracks.Apply(now)
	}
	if old == nil || old.Self.State != m.Self.State {
		if m.Self.State.CanTalk() {
			a.log.Info("member state", "state", m.Self.State)
		} else {
			a.log.Warn("member state: push-to-talk is not allowed", "state", m.Self.State)
		}
	}
	if why := m.Self.Access().Withdrawn; why != "" {
		a.p.Health.SetUnhealthy(health.Deprovisioned, why)
	} else {
		a.p.Health.SetHealthy(health.Deprovisioned)
	}
}

// trackSettings are the reporter's settings under model m: the
// platform's when it sets them (corp), else the config file's, and
// location sharing off while the platform's state stops the tracks.
func (a *Agent) trackSettings(m *platform.Model) track.Settings {
	if m == nil {
		return a.p.TrackSettings
	}
	ts := a.p.TrackSettings
	if m.Self.HasSettings {
		ts = track.Settings{LocShare: m.Self.LocShare, Track: m.Self.Track}
	}
	if !m.Self.Access().Tracks {
		ts.LocShare = false
	}
	return ts
}

// Sync is the platform sync engine, nil with platform.dialect none.
func (a *Agent) Sync() *platformsync.Engine { return a.p.Sync }

// Model is what the platform last said about this member and its groups
// (nil before the first sync and without a platform). Push-to-talk reads
// the member state, the groups' floor rules and this member's permissions
// here; it is never modified, Sync().Watch() says when it is replaced.
func (a *Agent) Model() *platform.Model {
	if a.p.Sync == nil {
		return nil
	}
	return a.p.Sync.Model()
}

// PlatformStatus is the platform part of Status.
type PlatformStatus struct {
	Dialect     string        `json:"dialect"`
	State       string        `json:"state,omitempty"` // the member's state; "" before any sync
	MemberID    int64         `json:"member_id,omitempty"`
	Name        string        `json:"name,omitempty"`
	TTS         bool          `json:"tts"`
	LocShare    bool          `json:"loc_share"`
	Track       int           `json:"track"`
	Groups      []GroupStatus `json:"groups"`
	ActiveGroup int64         `json:"active_group,omitempty"`
	FromDisk    bool          `json:"from_disk"` // the state in use was loaded at boot and not yet confirmed
	LastSync    time.Time     `json:"last_sync,omitzero"`
	Fetched     time.Time     `json:"fetched,omitzero"` // when the platform last confirmed the state in use
	LastError   string        `json:"last_error,omitempty"`
	Events      int           `json:"events"`
	Duplicates  int           `json:"duplicates"`
}

// GroupStatus is one of the member's groups: data, not a display string,
// so scripts read the id without parsing a name that may hold anything.
type GroupStatus struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (a *Agent) platformStatus() *PlatformStatus {
	if a.p.Sync == nil {
		return nil
	}
	st := a.p.Sync.Stats()
	ps := &PlatformStatus{Dialect: a.p.Dialect, FromDisk: st.FromDisk, LastSync: st.LastSync,
		LastError: st.LastError, Events: st.Events, Duplicates: st.Duplicates, Groups: []GroupStatus{}}
	if m := a.p.Sync.Model(); m != nil {
		ps.State, ps.MemberID, ps.Name = string(m.Self.State), m.Self.ID, m.Self.Name
		ps.TTS, ps.LocShare, ps.Track = m.Self.TTS, m.Self.LocShare, m.Self.Track
		ps.Fetched = m.Fetched
		for _, g := range m.Groups {
			ps.Groups = append(ps.Groups, GroupStatus{ID: g.ID, Name: g.Name})
		}
		ps.ActiveGroup = a.p.Sync.Active()
	}
	return ps
}
