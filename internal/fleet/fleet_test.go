package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/fleet"
)

// smoke runs a small fleet with a connect storm and checks what every run
// of the tool must show: nothing lost, everybody back, voice through.
func smoke(t *testing.T, o fleet.Options) *fleet.Report {
	t.Helper()
	r, err := fleet.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	if r.Lost != 0 || r.Stuck != 0 || r.Unknown != 0 || r.Failed != 0 {
		t.Errorf("points lost %d, still queued %d, unknown %d, not queued %d", r.Lost, r.Stuck, r.Unknown, r.Failed)
	}
	if r.Queued < uint64(o.Handsets) {
		t.Errorf("only %d points queued by %d handsets", r.Queued, o.Handsets)
	}
	if r.Latency.N == 0 {
		t.Error("no delivery latency measured")
	}
	if r.Storm == nil || r.Storm.Handsets == 0 || r.Storm.BackP.N != r.Storm.Handsets {
		t.Errorf("storm %+v: every handset dropped must be back", r.Storm)
	}
	if r.VoiceRelayed == 0 || r.VoiceHeard == 0 {
		t.Errorf("voice: relayed %d, heard %d", r.VoiceRelayed, r.VoiceHeard)
	}
	if r.BrokerRSS == 0 {
		t.Error("the broker's memory was not measured")
	}
	return r
}

// 200 handsets on one mosquitto, restarted in the middle: all reconnect
// at once through the agent's jittered backoff, and every point arrives.
func TestFleetOnMosquittoThroughARestart(t *testing.T) {
	t.Parallel()
	o := fleet.Defaults()
	o.Handsets, o.Period, o.Talkers, o.TalkEvery = 200, 2*time.Second, 10, 3*time.Second
	o.Duration, o.Storm, o.Drain = 12*time.Second, 4*time.Second, 30*time.Second
	// Two worker processes (as when the open-file limit cannot hold a
	// fleet in one): their parts must add up to the whole.
	o.Procs = 2
	o.Dir = t.TempDir()
	r := smoke(t, o)
	if r.Procs != 2 {
		t.Errorf("ran in %d processes", r.Procs)
	}
	if r.Storm.Handsets != o.Handsets {
		t.Errorf("the restart dropped %d of %d handsets", r.Storm.Handsets, o.Handsets)
	}
}

// A fleet spread over a 3-node NATS cluster loses a node (SIGKILL): its
// handsets fail over to the others, nothing is lost.
func TestFleetOnNATSClusterThroughANodeDeath(t *testing.T) {
	t.Parallel()
	o := fleet.Defaults()
	o.Broker, o.Handsets, o.Period, o.Talkers, o.TalkEvery = "nats", 30, time.Second, 6, 3*time.Second
	o.GroupSize = 10
	o.Duration, o.Storm, o.StormNode, o.Drain = 8*time.Second, 2*time.Second, 0, time.Minute
	o.ReconnectMin, o.ConnectTimeout = 500*time.Millisecond, 5*time.Second
	o.Dir = t.TempDir()
	r := smoke(t, o)
	// Its third at least: a client of a surviving node is dropped too
	// when its QoS 1 publish waits on a JetStream leader that died
	// (docs/fleet.md).
	if r.Storm.Handsets < o.Handsets/3 {
		t.Errorf("the node's death dropped %d handsets, want at least its third of %d", r.Storm.Handsets, o.Handsets)
	}
}

// Two platform simulators share the ingest of a fleet through a shared
// subscription and store every point, keeping up with the collector.
func TestPttsimKeepsUpWithAFleet(t *testing.T) {
	t.Parallel()
	o := fleet.Defaults()
	o.Handsets, o.Period, o.Duration, o.Sims, o.Procs = 300, time.Second, 5*time.Second, 2, 1
	o.Dir = t.TempDir()
	r, err := fleet.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", r)
	if r.Lost != 0 || r.Delivered == 0 {
		t.Fatalf("delivered %d, lost %d", r.Delivered, r.Lost)
	}
	if s := r.Sims; s == nil || s.Stored != r.Delivered || len(s.Shares) != 2 || s.Shares[0] == 0 || s.Shares[1] == 0 {
		t.Errorf("simulators %+v: want the %d points delivered, split between both", s, r.Delivered)
	}
}
