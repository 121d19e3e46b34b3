package agent

import (
	"fmt"
	"strings"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/uplink/media"
)

// Status is a snapshot of the running agent for `pttagent status`, systemd's
// STATUS= line and the logs. It marshals to the JSON that `status --json`
// prints; field names are part of that interface.
type Status struct {
	Version  string           `json:"version"`
	Device   string           `json:"device"`
	Name     string           `json:"name,omitempty"`
	Started  time.Time        `json:"started"`
	GPS      GPSStatus        `json:"gps"`
	Uplink   UplinkStatus     `json:"uplink"`
	Tracks   TrackStatus      `json:"tracks"`
	Platform *PlatformStatus  `json:"platform,omitempty"` // nil without a platform
	PTT      *ptt.Status      `json:"ptt,omitempty"`
	Media    *media.Stats     `json:"media,omitempty"` // the UDP voice path; absent when voice goes only over MQTT
	Warnings []health.Warning `json:"warnings"`
	Alerts   *alert.Stats     `json:"alerts,omitempty"` // the SOS key's emergency messages and their delivery
}

type GPSStatus struct {
	Device      string            `json:"device"`
	Connected   bool              `json:"connected"`
	Since       time.Time         `json:"since"`
	LastError   string            `json:"last_error,omitempty"`
	Mode        string            `json:"mode"`            // "no fix", "2D", "3D", "unknown"
	Valid       bool              `json:"valid"`           // the last fix is valid
	HasFix      bool              `json:"has_fix"`         // a valid fix no older than gps.FixMaxAge
	Sats        int               `json:"sats"`            // satellites used
	Lat         float64           `json:"lat,omitempty"`   // of the last valid fix
	Lon         float64           `json:"lon,omitempty"`   //
	LastFixAge  float64           `json:"last_fix_age_s"`  // seconds since the last fix; -1 never
	Sentences   uint64            `json:"sentences"`       // decoded
	Ignored     uint64            `json:"ignored"`         // well-formed, not used (GSV, …)
	Drops       map[string]uint64 `json:"drops,omitempty"` // by reason
	Fixes       uint64            `json:"fixes"`
	Opens       uint64            `json:"opens"`
	Disconnects uint64            `json:"disconnects"`
}

type UplinkStatus struct {
	Connected  bool      `json:"connected"`
	Broker     string    `json:"broker,omitempty"`
	Since      time.Time `json:"since"`
	Reconnects int       `json:"reconnects"`
	LastError  string    `json:"last_error,omitempty"`
}

type TrackStatus struct {
	LocShare    bool      `json:"loc_share"`
	Track       int       `json:"track"`
	PeriodS     float64   `json:"period_s"`
	Queued      int       `json:"queued"`         // points on disk, not yet acknowledged
	LastSeq     uint64    `json:"last_seq"`       // last sequence number assigned
	LastAcked   uint64    `json:"last_acked_seq"` // highest acknowledged this run
	Dropped     uint64    `json:"dropped"`        // oldest points dropped because the queue was full
	Failed      uint64    `json:"failed"`         // points that could not be stored
	Points      uint64    `json:"points"`         // points queued this run
	Suppressed  uint64    `json:"suppressed"`     // periodic points skipped by min_distance
	LastPoint   time.Time `json:"last_point,omitzero"`
	LastAckTime time.Time `json:"last_ack,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Status takes a snapshot. Safe to call at any time, also before Run.
func (a *Agent) Status() Status {
	now := time.Now()
	a.mu.Lock()
	start := a.start
	a.mu.Unlock()

	s := Status{Version: a.p.Version, Device: a.p.Account, Name: a.p.Name, Started: start}

	g := a.p.GPS.Stats()
	s.GPS = GPSStatus{Device: g.Device, Connected: g.Connected, Since: g.Since, Mode: g.LastFix.Mode.String(),
		Valid: g.LastFix.Valid, HasFix: g.HasFix(now), Sats: g.LastFix.Sats, LastFixAge: -1, Sentences: g.Sentences,
		Ignored: g.Ignored, Fixes: g.Fixes, Opens: g.Opens, Disconnects: g.Disconnects}
	if g.LastErr != nil {
		s.GPS.LastError = g.LastErr.Error()
	}
	if !g.LastFixAt.IsZero() {
		s.GPS.LastFixAge = now.Sub(g.LastFixAt).Seconds()
	}
	if g.LastFix.Valid {
		s.GPS.Lat, s.GPS.Lon = g.LastFix.Lat, g.LastFix.Lon
	}
	for i, n := range g.Drops {
		if n > 0 {
			if s.GPS.Drops == nil {
				s.GPS.Drops = map[string]uint64{}
			}
			s.GPS.Drops[gps.Reason(i).String()] = n
		}
	}

	m := a.p.MQTT.Stats()
	s.Uplink = UplinkStatus{Connected: m.Connected, Broker: m.Broker, Since: m.Since, Reconnects: m.Reconnects, LastError: m.LastError}
	s.Tracks = a.trackStatus()
	s.Platform = a.platformStatus()
	if a.p.Media != nil {
		ms := a.p.Media.Stats()
		s.Media = &ms
	}
	if a.p.PTT != nil {
		ps := a.p.PTT.Status()
		s.PTT = &ps
	}
	if a.p.Alerts != nil {
		as := a.p.Alerts.Stats()
		s.Alerts = &as
	}
	s.Warnings = a.p.Health.Warnings()
	return s
}

// trackStatus is the reporter's and the queue's part of Status.
func (a *Agent) trackStatus() TrackStatus {
	a.mu.Lock()
	q := a.queue
	a.mu.Unlock()
	r := a.p.Tracks.Stats()
	t := TrackStatus{LocShare: r.LocShare, Track: r.Track, PeriodS: r.Period.Seconds(), Points: r.Points,
		Suppressed: r.Suppressed, LastPoint: r.LastPoint, LastError: r.LastError}
	if q != nil {
		qs := q.Stats()
		t.Queued, t.LastSeq, t.LastAcked, t.Dropped, t.Failed = qs.Len, qs.LastSeq, qs.LastAcked, qs.Dropped, qs.Failed
		t.LastAckTime = a.p.Sender.Stats().LastAck
	}
	return t
}

// Summary is the one-line state for systemd's STATUS= and for logs, e.g.
// "uplink connected, GPS 3D fix (9 sats), 0 points queued".
func (s Status) Summary() string {
	var b strings.Builder
	if s.Uplink.Connected {
		b.WriteString("uplink connected")
	} else {
		b.WriteString("uplink down")
	}
	switch {
	case !s.GPS.Connected:
		b.WriteString(", GPS device absent")
	case s.GPS.HasFix:
		fmt.Fprintf(&b, ", GPS %s fix (%d sats)", s.GPS.Mode, s.GPS.Sats)
	default:
		b.WriteString(", GPS no fix")
	}
	fmt.Fprintf(&b, ", %d points queued", s.Tracks.Queued)
	if !s.Tracks.LocShare || s.Tracks.PeriodS == 0 {
		b.WriteString(" (tracking off)")
	}
	for _, w := range s.Warnings {
		b.WriteString("; ")
		b.WriteString(w.Name)
	}
	return b.String()
}
