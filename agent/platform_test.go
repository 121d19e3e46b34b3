package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

func platformConfig(t *testing.T, dir, dev, broker, platformURL string) *config.Config {
	t.Helper()
	configtest.Secrets(t, filepath.Join(dir, "agent.yaml"), "platform_password: s3cret\n")
	return configtest.Load(t, dir, `device: {account: dev-e2e}
secrets_file: secrets.yaml
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
gps: {device: `+dev+`}
mqtt:
  brokers: [`+broker+`]
  reconnect_min: 100ms
  reconnect_max: 500ms
tracks:
  loc_share: true
  track: 1
  periods: {high: 1s, medium: 2s, low: 3s}
platform:
  dialect: corp
  base_url: `+platformURL+`
  poll: 1h
  request_timeout: 500ms
`)
}

// The whole loop with the real agent: an operator changes the handset's
// settings in pttsim, the running agent's reporter follows within
// seconds, the handset's track reads back through the seeds' endpoints,
// and a reboot without the platform starts from the persisted settings.
func TestAgentFollowsThePlatform(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	s := simtest.Start(t, pttsim.Options{Broker: broker.URL()})
	admin, _ := s.AddMember(pttsim.MemberSpec{Num: "admin", Password: "admin", Type: pttsim.TypeOwner})
	dev, err := s.AddMember(pttsim.MemberSpec{Num: "dev-e2e", Name: "E2E", Password: "s3cret", Type: pttsim.TypeDevice, LocShare: 1, Track: 1})
	if err != nil {
		t.Fatal(err)
	}
	grp, _ := s.CreateGroup(pttsim.GroupSpec{Name: "Patrol", Creator: admin.ID, Members: []int64{admin.ID, dev.ID}})
	op := s.Login(t, "admin", "admin")

	dir := t.TempDir()
	devPath := filepath.Join(dir, "gps0")
	gpstest.Simulate(t, devPath, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cfg := platformConfig(t, dir, devPath, broker.URL(), s.URL)
	a, err := agent.Assemble(cfg, testLogger(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()

	wait.For(t, 10*time.Second, "the first sync", func() bool {
		p := a.Status().Platform
		return p != nil && !p.LastSync.IsZero()
	})
	if p := a.Status().Platform; p.State != "enabled" || p.MemberID != dev.ID || len(p.Groups) != 1 || p.ActiveGroup != grp.ID {
		t.Errorf("platform status %+v", p)
	}
	if m := a.Model(); m == nil || m.Group(grp.ID) == nil || !m.Group(grp.ID).My.Speak {
		t.Errorf("model %+v", m)
	}
	wait.For(t, 15*time.Second, "points stored by the platform", func() bool { return len(s.Tracks("dev-e2e")) >= 2 })
	// pttsim says, retained, that it reads track version 2: the default
	// tracks.encoding (auto) sends CBOR, and the platform stores it.
	stored0 := len(s.Tracks("dev-e2e"))
	wait.For(t, 15*time.Second, "CBOR batches stored", func() bool {
		return a.Status().Tracks.Encoding == "cbor" && len(s.Tracks("dev-e2e")) > stored0+1
	})

	// The event subscription is in place once an event arrived (the poll
	// is an hour: only events can deliver the changes below in time).
	change := func(body map[string]any, what string, ok func(agent.Status) bool) {
		t.Helper()
		body["org_num"], body["member_id"] = 100130, dev.ID
		op.Corp("member-change", body, nil)
		wait.For(t, 2*time.Second, what, func() bool { return ok(a.Status()) })
	}
	wait.For(t, 5*time.Second, "events flowing", func() bool {
		op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": dev.ID, "name": "E2E"}, nil)
		time.Sleep(50 * time.Millisecond)
		return a.Status().Platform.Events > 0
	})
	change(map[string]any{"track": 2}, "track 2 in the reporter", func(st agent.Status) bool {
		return st.Tracks.Track == 2 && st.Tracks.PeriodS == 2
	})
	change(map[string]any{"loc_share": 0, "tts": 1}, "loc_share 0 in the reporter", func(st agent.Status) bool {
		return !st.Tracks.LocShare && st.Platform.TTS
	})
	op.Corp("member-change-state", map[string]any{"org_num": 100130, "member_id": dev.ID, "state": 1}, nil)
	wait.For(t, 2*time.Second, "state paused in status", func() bool { return a.Status().Platform.State == "paused" })

	// The track the agent reported reads back in the seeds' shapes.
	today := time.Now().Format("2006-01-02")
	var tr struct {
		Tracks []map[string]json.Number `json:"tracks"`
	}
	op.Corp("location-get-track", map[string]any{"user_id": dev.ID, "date": today}, &tr)
	stored := s.Tracks("dev-e2e")
	if len(tr.Tracks) < 2 || len(tr.Tracks) > len(stored) {
		t.Fatalf("location-get-track: %d points, %d stored", len(tr.Tracks), len(stored))
	}
	p0 := tr.Tracks[0]
	if len(p0) != 3 || p0["latitude"].String() == "" || p0["created"].String() != fmt.Sprint(stored[0].Created) {
		t.Errorf("location-get-track point %v, stored %+v", p0, stored[0])
	}
	if lat, _ := p0["latitude"].Float64(); lat < 48 || lat > 48.3 {
		t.Errorf("latitude %v (the log drives round Munich)", lat)
	}
	var pb struct {
		Status int                                     `json:"status"`
		Data   map[string][]map[string]json.RawMessage `json:"data"`
	}
	tok := wapiToken(t, s, "admin", "admin")
	raw := s.Raw(t, "POST", "/wapi/location/trackPlayback", map[string][]string{"Token": {tok}},
		map[string]any{"uids": []int64{dev.ID}, "startTimestamp": time.Now().Add(-time.Hour).UnixMilli(), "endTimestamp": time.Now().Add(time.Hour).UnixMilli()})
	if err := json.Unmarshal(raw, &pb); err != nil || pb.Status != 200 {
		t.Fatalf("trackPlayback: %v %s", err, raw)
	}
	pts := pb.Data[fmt.Sprint(dev.ID)]
	if len(pts) != len(stored) && len(pts) < len(tr.Tracks) {
		t.Fatalf("trackPlayback %d points, stored %d", len(pts), len(stored))
	}
	for _, k := range []string{"uid", "positionType", "x", "y", "speed", "altitude", "bearing", "time", "location"} {
		if _, ok := pts[0][k]; !ok {
			t.Errorf("trackPlayback point lacks %q: %s", k, raw[:min(len(raw), 400)])
		}
	}
	var loc []float64
	var x, y, speed float64
	var ms int64
	json.Unmarshal(pts[0]["location"], &loc)
	json.Unmarshal(pts[0]["x"], &x)
	json.Unmarshal(pts[0]["y"], &y)
	json.Unmarshal(pts[0]["speed"], &speed)
	json.Unmarshal(pts[0]["time"], &ms)
	if len(loc) != 2 || loc[0] != y || loc[1] != x || x != stored[0].Latitude || speed != stored[0].Speed || ms != stored[0].Created*1000 {
		t.Errorf("trackPlayback point %s vs stored %+v", raw[:min(len(raw), 400)], stored[0])
	}

	// Reboot with the platform gone: the persisted settings rule.
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	cfg2 := platformConfig(t, dir, devPath, broker.URL(), "http://127.0.0.1:1")
	a2, err := agent.Assemble(cfg2, testLogger(t), "test")
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- a2.Run(ctx) }()
	wait.For(t, 5*time.Second, "the agent running", func() bool { return a2.Status().Uplink.Connected })
	st := a2.Status()
	if st.Platform == nil || !st.Platform.FromDisk || st.Platform.State != "paused" || st.Tracks.LocShare || st.Tracks.Track != 2 || len(st.Platform.Groups) != 1 {
		t.Errorf("after a reboot without the platform: platform %+v tracks %+v", st.Platform, st.Tracks)
	}
	wait.For(t, 5*time.Second, "a failed sync in status", func() bool { return a2.Status().Platform.LastError != "" })
	cancel()
	<-done
}

func wapiToken(t *testing.T, s *simtest.Sim, account, password string) string {
	t.Helper()
	raw := s.Raw(t, "POST", "/wapi/user/login", nil, map[string]any{"account": account, "password": simtest.MD5(password)})
	var env struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Data.Token == "" {
		t.Fatalf("wapi login: %s", raw)
	}
	return env.Data.Token
}

// testLogger discards, unless AGENT_TEST_LOG is set.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("AGENT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
