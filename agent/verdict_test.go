package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/ptt"
)

func TestVerdict(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	good := func() Status {
		return Status{at: now,
			Uplink:   UplinkStatus{Connected: true},
			GPS:      GPSStatus{Connected: true, HasFix: true, Mode: "3D", Sats: 9},
			Tracks:   TrackStatus{LocShare: true, PeriodS: 60},
			Platform: &PlatformStatus{State: "enabled", LastSync: now.Add(-12 * time.Second)},
			PTT:      &ptt.Status{ActiveGroup: 7, ActiveGroupName: "Patrol", Floor: "idle", Transport: "udp"},
		}
	}
	warn := func(w *health.Warnable, detail string, ago time.Duration) health.Warning {
		return health.Warning{Name: w.Name, Detail: detail, Since: now.Add(-ago), Hint: w.Hint}
	}
	for _, tc := range []struct {
		name string
		edit func(*Status)
		want string
	}{
		{"all good", func(*Status) {},
			`OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT ready (group "Patrol"), voice over UDP`},
		{"tracks waiting, voice over the broker", func(s *Status) { s.Tracks.Queued = 12; s.PTT.Transport = "mqtt" },
			`OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT ready (group "Patrol"), voice over MQTT, 12 points queued`},
		{"talking, tracking off", func(s *Status) { s.PTT.Floor = "has-permission"; s.Tracks.LocShare = false },
			`OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT talking (group "Patrol"), voice over UDP, tracking off`},
		{"inside the warnings' delays: on its way, not a problem", func(s *Status) {
			s.Uplink = UplinkStatus{FailedAttempts: 3}
			s.GPS = GPSStatus{Connected: true, Mode: "no fix", Sats: 2, LastFixAge: 1}
			s.Platform.LastError = "connection refused"
		}, `OK — uplink connecting (3 failed attempts), GPS no fix (2 sats), platform sync failing (last synced 12 s ago), PTT ready (group "Patrol"), voice over UDP`},
		{"first start", func(s *Status) {
			s.Uplink = UplinkStatus{}
			s.GPS = GPSStatus{Connected: true, Mode: "no fix", LastFixAge: -1}
			s.Platform = &PlatformStatus{}
			s.PTT = &ptt.Status{Transport: "mqtt"}
		}, `OK — uplink connecting, GPS no fix yet, platform not synced yet, PTT without a group, voice over MQTT`},
		{"member paused", func(s *Status) { s.Platform.State = "paused" },
			`OK — uplink connected, GPS 3D (9 sats), platform synced 12 s ago, PTT not allowed (member paused), voice over UDP`},
		{"no sound card: the worst first, with detail, age and hint", func(s *Status) {
			s.PTT.AudioError = "open capture default device: no default input device"
			s.Warnings = []health.Warning{
				warn(health.GPSNoFix, "no fix yet", time.Minute),
				warn(health.SoundAbsent, "open capture default device: no default input device", 2*time.Minute),
				warn(health.UplinkDown, "connection refused", 3*time.Hour),
			}
		}, "PROBLEM — sound-card-absent: open capture default device: no default input device (for 2 min) → " +
			health.SoundAbsent.Hint + "; also uplink-down, gps-no-fix"},
		{"platform down", func(s *Status) {
			s.Platform.LastError = "dial tcp 127.0.0.1:9: connection refused"
			s.Warnings = []health.Warning{warn(health.PlatformSyncFailing, "dial tcp 127.0.0.1:9: connection refused", 61*time.Second)}
		}, "PROBLEM — platform-sync-failing: dial tcp 127.0.0.1:9: connection refused (for 1 min) → " + health.PlatformSyncFailing.Hint},
		{"a warning this version does not rank comes last", func(s *Status) {
			s.Warnings = []health.Warning{{Name: "a-new-one"}, warn(health.BatteryLow, "9 %", 0)}
		}, "PROBLEM — battery-low: 9 % (for 0 s) → charge the handset; also a-new-one"},
		{"platform text cannot drive the terminal", func(s *Status) {
			s.PTT.ActiveGroupName = "Pat\x1b[2Jrol\u202e"
			s.Warnings = []health.Warning{{Name: "x", Detail: "revoked: \x1b]0;owned\a"}}
		}, `PROBLEM — x: revoked: \x1b]0;owned\a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.edit(&s)
			if got := s.Summary(); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	s := good()
	s.PTT.ActiveGroupName = "Pat\x1b[2Jrol\u202e"
	if got := s.Summary(); !strings.Contains(got, `(group "Pat\x1b[2Jrol\u202e")`) {
		t.Errorf("group name not escaped: %q", got)
	}
}

// The start-up trim waits while voice is being said or heard: the voice
// path's pages must not come back from storage mid-burst.
func TestVoiceIdleForTheStartupTrim(t *testing.T) {
	for _, c := range []struct {
		p    *ptt.Status
		idle bool
	}{
		{nil, true},
		{&ptt.Status{Floor: "idle"}, true},
		{&ptt.Status{Floor: "queued"}, true},
		{&ptt.Status{Floor: "idle", Receiving: true}, false},
		{&ptt.Status{Floor: "idle", Playing: true}, false},
		{&ptt.Status{Floor: "has-permission"}, false},
		{&ptt.Status{Floor: "pending-release"}, false},
	} {
		if got := voiceIdle(c.p); got != c.idle {
			t.Errorf("voiceIdle(%+v) = %v", c.p, got)
		}
	}
}
