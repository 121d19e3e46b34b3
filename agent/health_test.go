package agent

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/health"
)

// A receiver without sky completes an invalid cycle every second: that is
// "no fix", not a fresh one.
func TestNoFixWarningNeedsAValidFix(t *testing.T) {
	cfg := config.Default()
	cfg.Device.Account, cfg.GPS.Device, cfg.MQTT.Brokers = "dev", "/dev/null", []string{"tcp://127.0.0.1:1"}
	t0 := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name string
		gps  GPSStatus
		want bool
	}{
		{"invalid cycles every second", GPSStatus{Connected: true, Valid: false, LastFixAge: 0.5, Mode: "no fix"}, true},
		{"no cycle ever", GPSStatus{Connected: true, LastFixAge: -1}, true},
		{"valid but stale", GPSStatus{Connected: true, Valid: true, LastFixAge: 30}, true},
		{"valid and fresh", GPSStatus{Connected: true, Valid: true, LastFixAge: 0.8, Mode: "3D"}, false},
		{"device absent (its own warning)", GPSStatus{Connected: false}, false},
	} {
		a, err := New(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
		if err != nil {
			t.Fatal(err)
		}
		s := Status{GPS: tc.gps, Uplink: UplinkStatus{Connected: true}}
		a.checkHealth(t0, s)
		a.checkHealth(t0.Add(61*time.Second), s)
		if got := a.health.Has(health.GPSNoFix); got != tc.want {
			t.Errorf("%s: gps-no-fix = %v, want %v", tc.name, got, tc.want)
		}
	}
}
