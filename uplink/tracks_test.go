package uplink_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/internal/logbuf"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

// collector is the platform's side: it records every sequence number it
// receives on the track topic, duplicates included.
type collector struct {
	mu   sync.Mutex
	seqs []uint64
	bad  int
}

func (c *collector) handle(_ paho.Client, m paho.Message) {
	pts, err := wire.DecodeTrackBatch(m.Payload())
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad++
		return
	}
	for _, p := range pts {
		c.seqs = append(c.seqs, p.Seq)
	}
}

// unique returns the first occurrences in arrival order.
func (c *collector) unique() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[uint64]bool{}
	var out []uint64
	for _, s := range c.seqs {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func subscribe(t *testing.T, url, topic string, c *collector) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID("platform-" + t.Name() + "-" + topic).SetCleanSession(false).SetAutoReconnect(true)
	cli := paho.NewClient(o)
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber connect: %v", tok.Error())
	}
	if tok := cli.Subscribe(topic, 1, c.handle); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	t.Cleanup(func() { cli.Disconnect(100) })
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestEveryPointArrivesThroughDeadZones(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	proxy := mqtttest.NewProxy(t, broker.Addr())
	topics := wire.Topics{Prefix: "ptt", Account: "dev-1"}
	var got collector
	subscribe(t, broker.URL(), topics.Track(), &got)

	q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	client := mqtt.New(mqtt.Options{
		Brokers: []string{proxy.URL()}, ClientID: "dev-1", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: quietLogger(),
	})
	sender := &uplink.TrackSender{Queue: q, MQTT: client, Topic: topics.Track(), BatchPoints: 7, BatchBytes: 4096,
		MaxInflight: 3, AckTimeout: 5 * time.Second, Logger: quietLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Run(ctx)
	go sender.Run(ctx)

	const n = 400
	for i := 1; i <= n; i++ {
		if _, err := q.Append(&wire.Point{Created: int64(i), Latitude: 1, Longitude: 2}); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 100, 200, 300: // the link drops mid-stream, points keep coming
			proxy.Cut()
			wait.For(t, 5*time.Second, "the client to see the link drop", func() bool { up, _ := client.State(); return !up })
		case 150, 250, 350: // and comes back before the next dead zone
			proxy.Restore()
			wait.For(t, 10*time.Second, "the client to reconnect", func() bool { up, _ := client.State(); return up })
		}
		time.Sleep(time.Millisecond)
	}
	wait.For(t, 20*time.Second, "every point sent and received", func() bool { return q.Len() == 0 && len(got.unique()) == n })
	u := got.unique()
	for i, s := range u {
		if s != uint64(i+1) {
			t.Fatalf("after de-duplication position %d holds seq %d: order broken or a point lost", i, s)
		}
	}
	if got.bad != 0 {
		t.Errorf("%d undecodable batches", got.bad)
	}
	if st := client.Stats(); st.Reconnects < 3 {
		t.Errorf("only %d reconnects: the dead zones did not happen", st.Reconnects)
	}
	t.Logf("%d points, %d deliveries (%d duplicates), sender %+v", n, len(got.seqs), len(got.seqs)-n, sender.Stats())
}

func TestPresenceOnlineRetainedAndLastWill(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	proxy := mqtttest.NewProxy(t, broker.Addr())
	topics := wire.Topics{Prefix: "ptt", Account: "dev-2"}
	client := mqtt.New(mqtt.Options{
		Brokers: []string{proxy.URL()}, ClientID: "dev-2", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Hour, ReconnectMax: time.Hour,
		StatusTopic: topics.Status(),
		Online:      func() []byte { return wire.Presence{State: "online", Time: 1}.Encode() },
		OfflineWill: wire.Presence{State: "offline"}.Encode(),
		Offline:     func() []byte { return wire.Presence{State: "offline", Reason: "shutdown"}.Encode() },
		Logger:      quietLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Run(ctx)
	wait.For(t, 5*time.Second, "the client to connect", func() bool { up, _ := client.State(); return up })

	// A late subscriber still learns the device is online: retained.
	if got := retained(t, broker.URL(), topics.Status()); got != `{"state":"online","ts":1}` {
		t.Errorf("retained status = %s", got)
	}
	// The radio link dies: the broker publishes the will.
	proxy.Cut()
	wait.For(t, 20*time.Second, "the broker to publish the will", func() bool { return retained(t, broker.URL(), topics.Status()) == `{"state":"offline"}` })
}

func TestCleanStopPublishesOffline(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	topics := wire.Topics{Prefix: "ptt", Account: "dev-3"}
	client := mqtt.New(mqtt.Options{
		Brokers: []string{broker.URL()}, ClientID: "dev-3", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second,
		StatusTopic: topics.Status(),
		Online:      func() []byte { return wire.Presence{State: "online"}.Encode() },
		OfflineWill: wire.Presence{State: "offline"}.Encode(),
		Offline:     func() []byte { return wire.Presence{State: "offline", Reason: "shutdown"}.Encode() },
		Logger:      quietLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1) // Run's goroutine ends even when the test fails before reading
	go func() { done <- client.Run(ctx) }()
	wait.For(t, 5*time.Second, "the client to connect", func() bool { up, _ := client.State(); return up })
	cancel()
	<-done
	if got := retained(t, broker.URL(), topics.Status()); got != `{"state":"offline","reason":"shutdown"}` {
		t.Errorf("retained status after stop = %s", got)
	}
}

func TestUnreachableBrokerThenBack(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	broker.Stop()
	client := mqtt.New(mqtt.Options{
		Brokers: []string{"tcp://127.0.0.1:1", broker.URL()}, ClientID: "dev-4", KeepAlive: 5 * time.Second,
		ConnectTimeout: time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Logger: quietLogger(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Run(ctx)
	wait.For(t, 5*time.Second, "three failed connects", func() bool { return client.Stats().Failures >= 3 })
	broker.Start()
	wait.For(t, 5*time.Second, "the client to connect", func() bool { up, _ := client.State(); return up })
	if st := client.Stats(); st.Broker != broker.URL() {
		t.Errorf("connected to %q, want the second broker %q", st.Broker, broker.URL())
	}
}

func retained(t *testing.T, url, topic string) string {
	t.Helper()
	ch := make(chan string, 1)
	o := paho.NewClientOptions().AddBroker(url).SetClientID("")
	cli := paho.NewClient(o)
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cli.Disconnect(50)
	cli.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		select {
		case ch <- string(m.Payload()):
		default:
		}
	}).WaitTimeout(5 * time.Second)
	select {
	case s := <-ch:
		return s
	case <-time.After(500 * time.Millisecond):
		return ""
	}
}

// Two handsets provisioned with the same account take the connection from
// each other. They must back off (not reconnect in a tight loop) and say why.
func TestDuplicateClientIDBacksOffAndSaysWhy(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	var logs [2]logbuf.Buffer
	var clients [2]*mqtt.Client
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range clients {
		clients[i] = mqtt.New(mqtt.Options{Brokers: []string{broker.URL()}, ClientID: "dev-twin", KeepAlive: 5 * time.Second,
			ConnectTimeout: 2 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs[i], nil))})
		go clients[i].Run(ctx)
	}
	time.Sleep(4 * time.Second)
	total := clients[0].Stats().Connects + clients[1].Stats().Connects
	// Without backoff across short-lived connections this is ~40 per second.
	if total > 20 {
		t.Errorf("%d connections in 4 s: the twins reconnect in a tight loop", total)
	}
	if total < 4 {
		t.Errorf("only %d connections: the takeover did not happen", total)
	}
	if !strings.Contains(logs[0].String()+logs[1].String(), "another device using the same account") {
		t.Errorf("no hint in the logs:\n%s\n%s", logs[0].String(), logs[1].String())
	}
}

// An idle handset: a batch is acknowledged, then nothing is queued for
// longer than the ack timeout. The sender must simply wait (it once panicked
// on an ack timer left running with nothing in flight).
func TestIdleLongerThanAckTimeout(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{})
	q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	client := mqtt.New(mqtt.Options{Brokers: []string{broker.URL()}, ClientID: "dev-idle", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second, Logger: quietLogger()})
	sender := &uplink.TrackSender{Queue: q, MQTT: client, Topic: "ptt/dev/dev-idle/track", BatchPoints: 10,
		BatchBytes: 4096, MaxInflight: 2, AckTimeout: 200 * time.Millisecond, Logger: quietLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Run(ctx)
	done := make(chan error, 1)
	go func() { done <- sender.Run(ctx) }()
	q.Append(&wire.Point{Created: 1, Latitude: 1, Longitude: 1})
	wait.For(t, 5*time.Second, "the first point acknowledged", func() bool { return q.Len() == 0 })
	time.Sleep(800 * time.Millisecond) // four ack timeouts with nothing in flight
	q.Append(&wire.Point{Created: 2, Latitude: 1, Longitude: 1})
	wait.For(t, 5*time.Second, "the second point acknowledged", func() bool { return q.Len() == 0 })
	if st := sender.Stats(); st.Points != 2 || st.Restarts != 0 {
		t.Errorf("sender %+v", st)
	}
	cancel()
	<-done
}

// A backlog drains over a 300 B/s link with the shipped defaults (50
// points a batch, 4 in flight, ack_timeout 30 s). The sender once started
// the ack timer when it handed a batch to paho, so the fourth batch of a
// window (12 KB, 41 s of link) timed out before it had crossed; it then
// abandoned the window, ignored the PUBACKs still coming and queued copies
// behind the originals: 160 of 390 points acknowledged, then nothing for
// minutes (issue 13, item 15).
func TestBacklogDrainsOverASlowLink(t *testing.T) {
	t.Parallel() // 80 s of a slow link, mostly waiting
	def := config.Default()
	qo := def.Tracks.Queue
	st := drainOverSlowLink(t, 390, 300, qo.BatchPoints, qo.MaxInflight, def.MQTT.AckTimeout.D())
	if st.Timeouts != 0 || st.Probes != 0 {
		t.Errorf("a link that is merely slow timed out: %+v", st)
	}
}

// An ack timeout shorter than one batch takes to cross: the first batch
// times out several times before its PUBACK comes. That late PUBACK still
// deletes its points, and the batches shrink until they cross in time.
// (Before, no batch was ever acknowledged in time and nothing drained.)
func TestAckTimeoutShorterThanABatchTakes(t *testing.T) {
	t.Parallel()
	st := drainOverSlowLink(t, 120, 300, 50, 4, 2*time.Second)
	if st.Timeouts == 0 || st.Batch >= 50 {
		t.Errorf("the window did not shrink: %+v", st)
	}
}

// drainOverSlowLink queues n points, then lets a sender with the given
// batch, window and ack timeout drain them through a link of rate bytes
// per second each way to a real mosquitto, and checks that every point
// arrives, in order, and crosses the link about once.
func drainOverSlowLink(t *testing.T, n, rate, batch, inflight int, ackTimeout time.Duration) uplink.SenderStats {
	t.Helper()
	def := config.Default()
	broker := mqtttest.Start(t, mqtttest.Options{})
	link := newLink(t, broker.Addr(), rate, nil)
	topics := wire.Topics{Prefix: "ptt", Account: "dev-slow"}
	var got collector
	subscribe(t, broker.URL(), topics.Track(), &got)

	q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	payload := 0
	for i := 1; i <= n; i++ {
		p := wire.Point{Created: 1763712000 + int64(i), Latitude: 22.668835 + float64(i)*1e-5, Longitude: 115.070211,
			Speed: 42.3, Altitude: 23.2, Bearing: 231, HDOP: 1.1, Sats: 9, Mode: 3}
		if _, err := q.Append(&p); err != nil {
			t.Fatal(err)
		}
		payload += len(wire.AppendTrackRow(nil, &p)) + 1
	}
	client := mqtt.New(mqtt.Options{Brokers: []string{link.URL()}, ClientID: "dev-slow",
		KeepAlive: def.MQTT.KeepAlive.D(), ConnectTimeout: def.MQTT.ConnectTimeout.D(),
		ReconnectMin: def.MQTT.ReconnectMin.D(), ReconnectMax: def.MQTT.ReconnectMax.D(), Logger: quietLogger()})
	sender := &uplink.TrackSender{Queue: q, MQTT: client, Topic: topics.Track(), BatchPoints: batch,
		BatchBytes: def.Tracks.Queue.BatchBytes, MaxInflight: inflight, AckTimeout: ackTimeout, Logger: quietLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go client.Run(ctx)
	go sender.Run(ctx)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("after %v: %d points left, %d bytes up; sender %+v; client %+v",
				time.Since(start).Round(time.Second), q.Len(), link.Up.Load(), sender.Stats(), client.Stats())
		}
	})

	// The points alone take payload/rate; allow three times that.
	budget := 3 * time.Duration(payload) * time.Second / time.Duration(rate)
	wait.For(t, budget, "the backlog to drain", func() bool { return q.Len() == 0 })
	took := time.Since(start)
	wait.For(t, 10*time.Second, "every point at the platform", func() bool { return len(got.unique()) == n })
	for i, s := range got.unique() {
		if s != uint64(i+1) {
			t.Fatalf("position %d holds seq %d", i, s)
		}
	}
	// Nothing was sent again without reason: the link carried each point
	// about once (MQTT headers and the connection are the rest).
	if up := link.Up.Load(); up > int64(payload)*5/4 {
		t.Errorf("%d bytes crossed the link for %d bytes of points: batches were sent again", up, payload)
	}
	if r := client.Stats().Reconnects; r != 0 {
		t.Errorf("the connection was lost %d times", r)
	}
	st := sender.Stats()
	t.Logf("%d points (%d bytes of rows) over %d B/s drained in %v; %d bytes up; sender %+v",
		n, payload, rate, took.Round(time.Second), link.Up.Load(), st)
	return st
}

// A PUBACK lost on a live connection. When a later batch's PUBACK arrives,
// the broker had the batch (PUBACKs come in order): its points are
// deleted, not sent again. When none follows, the sender waits three ack
// timeouts, then sends the oldest points again as a probe, whose PUBACK
// settles both.
func TestLostPuback(t *testing.T) {
	for _, tc := range []struct {
		name   string
		drop   int // the n-th PUBACK is lost
		probes uint64
		// duplicates: the probe carries the oldest points, as many as a
		// batch holds after three timeouts (5 points halved once or twice)
		minDup, maxDup int
	}{
		{name: "a later one arrives", drop: 2},
		{name: "none follows", drop: 6, probes: 1, minDup: 1, maxDup: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := mqtttest.Start(t, mqtttest.Options{})
			link := newLink(t, broker.Addr(), 0, func(n int) bool { return n == tc.drop })
			topics := wire.Topics{Prefix: "ptt", Account: "dev-lossy"}
			var got collector
			subscribe(t, broker.URL(), topics.Track(), &got)
			q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 1000)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			for i := 1; i <= 30; i++ {
				q.Append(&wire.Point{Created: int64(i), Latitude: 1, Longitude: 2})
			}
			client := mqtt.New(mqtt.Options{Brokers: []string{link.URL()}, ClientID: "dev-lossy", KeepAlive: 30 * time.Second,
				ConnectTimeout: 2 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second, Logger: quietLogger()})
			sender := &uplink.TrackSender{Queue: q, MQTT: client, Topic: topics.Track(), BatchPoints: 5, BatchBytes: 4096,
				MaxInflight: 4, AckTimeout: time.Second, Logger: quietLogger()}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go client.Run(ctx)
			go sender.Run(ctx)
			wait.For(t, 10*time.Second, "the queue to drain", func() bool { return q.Len() == 0 })
			wait.For(t, 5*time.Second, "30 points at the platform", func() bool { return len(got.unique()) == 30 })
			st := sender.Stats()
			got.mu.Lock()
			dups := len(got.seqs) - 30
			got.mu.Unlock()
			if st.Passed != 1 || st.Probes != tc.probes || dups < tc.minDup || dups > tc.maxDup || st.Restarts != 0 {
				t.Errorf("passed %d probes %d duplicates %d, want 1, %d, %d–%d; sender %+v",
					st.Passed, st.Probes, dups, tc.probes, tc.minDup, tc.maxDup, st)
			}
		})
	}
}
