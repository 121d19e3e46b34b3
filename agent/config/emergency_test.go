package config

import (
	"strings"
	"testing"
	"time"
)

func TestEmergencyDefaultsAndProblems(t *testing.T) {
	cfg, _, err := Parse("a.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if e := cfg.Emergency; e.LongPress.D() != 2*time.Second || e.TrackPeriod.D() != 5*time.Second ||
		e.TrackFor.D() != 30*time.Minute || e.HotMic.D() != 10*time.Second || cfg.Board.Keys.SOS != "" {
		t.Fatalf("defaults %+v, sos %q", e, cfg.Board.Keys.SOS)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"emergency:\n  long_press: 100ms\n", "emergency.long_press: 100ms is out of range"},
		{"emergency:\n  track_period: 0s\n", "emergency.track_period: 0s is out of range"},
		{"emergency:\n  track_for: 48h\n", "emergency.track_for: 48h0m0s is out of range"},
		{"emergency:\n  hot_mic: 5m\n", "emergency.hot_mic: 5m0s is out of range"},
		{"emergency:\n  hotmic: 5s\n", "hotmic"},
		{"board:\n  keys:\n    sos: KEY_NOPE\n", "board.keys.sos: key code \"KEY_NOPE\""},
		{"board:\n  keys:\n    ptt: gpio:4\n    sos: gpio:4\n", "is also board.keys"},
	} {
		_, _, err := Parse("a.yaml", []byte(minimal+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", tc.yaml, err, tc.want)
		}
	}
	good := minimal + "board:\n  keys:\n    sos: gpio:5\nemergency:\n  long_press: 3s\n  track_period: 2s\n  track_for: 1h\n  hot_mic: 0s\n"
	cfg, _, err = Parse("a.yaml", []byte(good))
	if err != nil || cfg.Emergency.HotMic != 0 || cfg.Board.Keys.SOS != "gpio:5" {
		t.Fatalf("valid emergency config: %+v %v", cfg.Emergency, err)
	}
}
