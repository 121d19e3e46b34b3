package pttsim_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/brokers"
	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// Two simulators on one shared subscription split the track ingest: each
// takes a part, and together they hold every point once.
func TestSharedTrackIngest(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	sims := []*simtest.Sim{
		simtest.Start(t, pttsim.Options{Broker: broker.URL(), TrackShare: "ingest"}),
		simtest.Start(t, pttsim.Options{Broker: broker.URL(), TrackShare: "ingest"}),
	}
	checkShared(t, publisher(t, broker.URL()), sims)
}

// On a NATS cluster, which has no $share, the simulators take the tracks
// in a NATS queue group, on other nodes than the handsets publish to.
func TestSharedTrackIngestOnNATS(t *testing.T) {
	cl, err := brokers.StartNATS(brokers.NATSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	n := cl.Nodes
	sims := []*simtest.Sim{
		simtest.Start(t, pttsim.Options{Broker: n[0].URL(), NATS: n[1].NATSURL(), TrackShare: "ingest"}),
		simtest.Start(t, pttsim.Options{Broker: n[0].URL(), NATS: n[2].NATSURL(), TrackShare: "ingest"}),
	}
	checkShared(t, publisher(t, n[0].URL()), sims)
}

func checkShared(t *testing.T, pub paho.Client, sims []*simtest.Sim) {
	t.Helper()
	const devices, points = 10, 40
	for seq := uint64(1); seq <= points; seq++ {
		for d := range devices {
			batch := wire.AppendTrackBatch(nil, []wire.Point{{Seq: seq, Created: time.Now().Unix(), Latitude: 22.6, Longitude: 115, Mode: 3}})
			pub.Publish(fmt.Sprintf("ptt/dev/dev.%d/track", d), 1, false, batch)
		}
	}
	union := func(acct string) []uint64 {
		var seqs []uint64
		for _, s := range sims {
			for _, p := range s.Tracks(acct) {
				seqs = append(seqs, p.Seq)
			}
		}
		slices.Sort(seqs)
		return seqs
	}
	wait.For(t, 10*time.Second, "every point at one of the simulators", func() bool {
		for d := range devices {
			if len(union(fmt.Sprintf("dev.%d", d))) < points {
				return false
			}
		}
		return true
	})
	want := make([]uint64, points)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	for d := range devices {
		acct := fmt.Sprintf("dev.%d", d)
		if got := union(acct); !slices.Equal(got, want) {
			t.Errorf("%s: seqs %v, want 1..%d once each", acct, got, points)
		}
	}
	for i, s := range sims {
		n := s.Stats().TrackPoints
		t.Logf("simulator %d stored %d points", i, n)
		if n <= 1 {
			t.Errorf("simulator %d took no share of the ingest (%d points)", i, n)
		}
	}
}

// A point the broker had acknowledged to the handset and was sending on
// when the simulator's connection dropped comes again at the reconnect:
// the ingest keeps its session. With a clean session the broker threw it
// away (the NATS cluster test lost one point so, once, when a node's death
// dropped the simulator's connection on a surviving node).
func TestIngestKeepsPointsInFlightWhenItsConnectionDrops(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	proxy := mqtttest.NewProxy(t, broker.Addr())
	sim := simtest.Start(t, pttsim.Options{Broker: proxy.URL()})
	pub := publisher(t, broker.URL())
	send := func(seq uint64) {
		batch := wire.AppendTrackBatch(nil, []wire.Point{{Seq: seq, Created: time.Now().Unix(), Latitude: 22.6, Longitude: 115, Mode: 3}})
		if tok := pub.Publish("ptt/dev/dev.1/track", 1, false, batch); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", seq, tok.Error())
		}
	}
	seqs := func() []uint64 {
		var s []uint64
		for _, p := range sim.Tracks("dev.1") {
			s = append(s, p.Seq)
		}
		return s
	}
	send(1)
	wait.For(t, 5*time.Second, "the first point", func() bool { return len(seqs()) == 1 })
	// The broker sends 2 and 3 on, the simulator never sees them (nor
	// acknowledges them); then its connection drops.
	proxy.DropReplies(true)
	send(2)
	send(3)
	time.Sleep(200 * time.Millisecond)
	if n := len(seqs()); n != 1 {
		t.Fatalf("%d points through a proxy that drops them", n)
	}
	proxy.Cut()
	proxy.DropReplies(false)
	proxy.Restore()
	wait.For(t, 10*time.Second, "the points in flight, after the reconnect", func() bool { return len(seqs()) == 3 })
	if got := seqs(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("seqs %v, want 1 2 3", got)
	}
	if st := sim.Stats(); st.TrackMissing != 0 {
		t.Errorf("%d points missing", st.TrackMissing)
	}
}
