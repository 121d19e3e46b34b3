package agent

import (
	"math"
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
	// Verdict is the one-line answer to "is the handset fine?" that
	// `status` opens with and systemd's STATUS= carries (Summary).
	Verdict  string           `json:"verdict"`
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

	at time.Time // when the snapshot was taken: the verdict's ages count from it
}

// GPSStatus is the receiver now: mode, has_fix and sats describe the
// current cycle (none once the receiver is gone or silent for
// gps.FixMaxAge), never a fix from before it vanished.
type GPSStatus struct {
	Device      string            `json:"device"`
	Connected   bool              `json:"connected"`
	Since       time.Time         `json:"since"`
	LastError   string            `json:"last_error,omitempty"`
	Mode        string            `json:"mode"`            // of the current cycle: "no fix", "2D", "3D"
	HasFix      bool              `json:"has_fix"`         // a valid fix no older than gps.FixMaxAge
	Sats        int               `json:"sats"`            // satellites used in the current cycle
	Lat         float64           `json:"lat,omitempty"`   // of the last valid fix, to 6 decimals (0.1 m)
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
	Reconnects int       `json:"reconnects"` // successful connections after the first
	// FailedAttempts counts connection attempts that failed since the
	// last success: what a technician watching an outage wants to see
	// grow.
	FailedAttempts int    `json:"failed_attempts"`
	LastError      string `json:"last_error,omitempty"`
	// RTTMs and RTTVarMs: the broker's round trip and how much it varies,
	// from its SUBACKs (where a new speaker's first burst over the broker
	// starts: audio.jitter_target).
	RTTMs    float64 `json:"rtt_ms,omitempty"`
	RTTVarMs float64 `json:"rtt_var_ms,omitempty"`
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
	// Encoding of the last batch sent: "json" (version 1) or "cbor"
	// (version 2); empty before the first.
	Encoding string `json:"encoding,omitempty"`
}

// Status takes a snapshot. Safe to call at any time, also before Run.
func (a *Agent) Status() Status {
	now := time.Now()
	a.mu.Lock()
	start := a.start
	a.mu.Unlock()

	s := Status{Version: a.p.Version, Device: a.p.Account, Name: a.p.Name, Started: start, at: now}

	g := a.p.GPS.Stats()
	s.GPS = GPSStatus{Device: g.Device, Connected: g.Connected, Since: g.Since, Mode: gps.ModeNoFix.String(),
		HasFix: g.HasFix(now), LastFixAge: -1, Sentences: g.Sentences,
		Ignored: g.Ignored, Fixes: g.Fixes, Opens: g.Opens, Disconnects: g.Disconnects}
	if g.LastErr != nil {
		s.GPS.LastError = g.LastErr.Error()
	}
	if !g.LastFixAt.IsZero() {
		s.GPS.LastFixAge = now.Sub(g.LastFixAt).Seconds()
		// The last cycle stands for now only while it is fresh and the
		// receiver is there: after an unplug it is history.
		if g.Connected && now.Sub(g.LastFixAt) <= gps.FixMaxAge {
			s.GPS.Mode, s.GPS.Sats = g.LastFix.Mode.String(), g.LastFix.Sats
		}
	}
	if g.LastFix.Valid {
		s.GPS.Lat, s.GPS.Lon = roundDegrees(g.LastFix.Lat), roundDegrees(g.LastFix.Lon)
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
	s.Uplink = UplinkStatus{Connected: m.Connected, Broker: m.Broker, Since: m.Since, Reconnects: m.Reconnects,
		FailedAttempts: m.Failures, LastError: m.LastError, RTTMs: m.RTTMs, RTTVarMs: m.RTTVarMs}
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
	a.warnings(&s)
	s.Verdict = s.Summary()
	return s
}

// warnings fills in the visible warnings. The uplink's shows the latest
// failed attempt, not the error it went down with ("EOF" while every
// attempt since is refused): the broker connection reports only its ups
// and downs, and its error is part of the snapshot anyway.
func (a *Agent) warnings(s *Status) {
	s.Warnings = a.p.Health.Warnings()
	for i := range s.Warnings {
		if s.Warnings[i].Name == health.UplinkDown.Name && s.Uplink.LastError != "" {
			s.Warnings[i].Detail = s.Uplink.LastError
		}
	}
}

// roundDegrees keeps 6 decimals of a latitude or longitude: 0.11 m, finer
// than any handset's receiver, instead of float64's 15 digits of noise.
func roundDegrees(d float64) float64 { return math.Round(d*1e6) / 1e6 }

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
		ss := a.p.Sender.Stats()
		t.LastAckTime = ss.LastAck
		switch ss.Version {
		case 1:
			t.Encoding = "json"
		case 2:
			t.Encoding = "cbor"
		}
	}
	return t
}
