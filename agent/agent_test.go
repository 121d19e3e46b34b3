package agent_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/gps/gpssim"
	"github.com/pttagent/pttagent/gps/gpstest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// platform is the receiving end: every point and status message it got.
type platform struct {
	mu     sync.Mutex
	points []wire.Point
	status []string
}

func (p *platform) listen(t *testing.T, url string) {
	t.Helper()
	cli := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("platform-" + t.Name()))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("platform connect: %v", tok.Error())
	}
	t.Cleanup(func() { cli.Disconnect(50) })
	cli.Subscribe(wire.AllTracks("ptt"), 1, func(_ paho.Client, m paho.Message) {
		pts, err := wire.DecodeTrackBatch(m.Payload())
		if err != nil {
			t.Errorf("undecodable batch %q: %v", m.Payload(), err)
			return
		}
		p.mu.Lock()
		p.points = append(p.points, pts...)
		p.mu.Unlock()
	}).WaitTimeout(5 * time.Second)
	cli.Subscribe(wire.AllStatus("ptt"), 1, func(_ paho.Client, m paho.Message) {
		p.mu.Lock()
		p.status = append(p.status, string(m.Payload()))
		p.mu.Unlock()
	}).WaitTimeout(5 * time.Second)
}

func (p *platform) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.points)
}

func testConfig(t *testing.T, dev, broker string) *config.Config {
	t.Helper()
	return configtest.Load(t, "", `device: {account: dev-e2e}
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
gps: {device: `+dev+`}
mqtt:
  brokers: [`+broker+`]
  reconnect_min: 100ms
  reconnect_max: 500ms
tracks:
  track: 1
  periods: {high: 1s}
`)
}

// The walking skeleton: a GNSS on a real pty, the agent, a real broker,
// and a platform that receives the track — through an unplug and replug of
// the receiver.
func TestSerialGNSSToPlatform(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	var plat platform
	plat.listen(t, broker.URL())

	devPath := filepath.Join(t.TempDir(), "gps0")
	dev, err := gpssim.NewDevice(devPath)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	log := gpstest.DriveLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	play := func(ctx context.Context) {
		p := gpssim.Player{Speed: 4, Loop: true, Retime: true}
		p.Play(ctx, dev, log)
	}
	playCtx, stopPlay := context.WithCancel(ctx)
	go play(playCtx)

	cfg := testConfig(t, devPath, broker.URL())
	a, err := agent.Assemble(cfg, slog.New(slog.DiscardHandler), "test")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	wait.For(t, 15*time.Second, "3 points at the platform", func() bool { return plat.count() >= 3 })
	st := a.Status()
	if !st.Uplink.Connected || !st.GPS.Connected || !st.GPS.HasFix || st.GPS.Mode != "3D" || st.GPS.Sats == 0 {
		t.Errorf("status while running: %+v", st)
	}
	// This platform publishes no capabilities: tracks.encoding auto (the
	// default) sends version 1, which every platform reads.
	if st.Tracks.Encoding != "json" {
		t.Errorf("track encoding %q for a platform that said nothing, want json", st.Tracks.Encoding)
	}
	for _, w := range st.Warnings {
		if strings.HasPrefix(w.Name, "gps-") || w.Name == "uplink-down" {
			t.Errorf("warning %+v while the receiver and the broker work", w)
		}
	}
	plat.mu.Lock()
	first := plat.points[0]
	plat.mu.Unlock()
	// The log drives around Munich (48.1°N 11.6°E); the position is retimed to now.
	if first.Seq != 1 || first.Latitude < 48 || first.Latitude > 48.3 || first.Longitude < 11.4 || first.Longitude > 11.8 ||
		time.Since(time.Unix(first.Created, 0)) > time.Minute || first.Mode != 3 {
		t.Errorf("first point %+v", first)
	}

	// Unplug the receiver: no more points, the status says so.
	stopPlay()
	if err := dev.Unplug(); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the GPS to be reported disconnected", func() bool { return !a.Status().GPS.Connected })
	before := plat.count()

	// Plug it back: fixes and points resume.
	if err := dev.Replug(); err != nil {
		t.Fatal(err)
	}
	playCtx, stopPlay = context.WithCancel(ctx)
	defer stopPlay()
	go play(playCtx)
	wait.For(t, 15*time.Second, "points after replug", func() bool { return plat.count() >= before+2 })
	if st := a.Status(); !st.GPS.Connected || st.GPS.Opens < 2 {
		t.Errorf("after replug: %+v", st.GPS)
	}

	// Sequence numbers are gap-free and increasing.
	plat.mu.Lock()
	for i, p := range plat.points {
		if p.Seq != uint64(i+1) {
			t.Errorf("point %d has seq %d", i, p.Seq)
			break
		}
	}
	plat.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	// Presence: online while running, a clean "offline, shutdown" after.
	wait.For(t, 5*time.Second, "offline presence", func() bool {
		plat.mu.Lock()
		defer plat.mu.Unlock()
		return len(plat.status) >= 2
	})
	plat.mu.Lock()
	defer plat.mu.Unlock()
	var on, off wire.Presence
	json.Unmarshal([]byte(plat.status[0]), &on)
	json.Unmarshal([]byte(plat.status[len(plat.status)-1]), &off)
	if on.State != "online" || on.Version != "test" || off.State != "offline" || off.Reason != "shutdown" {
		t.Errorf("presence messages: %q", plat.status)
	}
}
