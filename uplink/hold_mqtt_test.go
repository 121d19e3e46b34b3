package uplink_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/uplink/radio"
	"github.com/pttagent/pttagent/wire"
)

// messages records each track message as it arrives.
type messages struct {
	mu   sync.Mutex
	at   []time.Time
	seqs [][]uint64
}

func (m *messages) handle(_ paho.Client, msg paho.Message) {
	pts, err := wire.DecodeTrackBatch(msg.Payload())
	if err != nil {
		return
	}
	var seqs []uint64
	for _, p := range pts {
		seqs = append(seqs, p.Seq)
	}
	m.mu.Lock()
	m.at, m.seqs = append(m.at, time.Now()), append(m.seqs, seqs)
	m.mu.Unlock()
}

func (m *messages) snapshot() ([]time.Time, [][]uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.at...), append([][]uint64(nil), m.seqs...)
}

// A parked handset's points wait on disk and go together in one message,
// just before the keep-alive would ping, in the ping's place; a point
// that moved goes at once. Real mosquitto, which logs every PINGREQ.
func TestParkedPointsGoTogetherInPlaceOfThePing(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.Options{Config: "log_type all"})
	topics := wire.Topics{Prefix: "ptt", Account: "dev-hold"}
	var got messages
	o := paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("platform-hold")
	sub := paho.NewClient(o)
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(50)
	if tok := sub.Subscribe(topics.Track(), 1, got.handle); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	q, err := queue.Open(filepath.Join(t.TempDir(), "q.db"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const keepAlive = 12 * time.Second
	rad := &radio.Radio{}
	client := mqtt.New(mqtt.Options{Brokers: []string{broker.URL()}, ClientID: "dev-hold", KeepAlive: keepAlive,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second, Radio: rad, Logger: quietLogger()})
	sender := &uplink.TrackSender{Queue: q, MQTT: client, Topic: topics.Track(), BatchPoints: 50, BatchBytes: 4096,
		MaxInflight: 2, AckTimeout: 5 * time.Second, Hold: uplink.Hold{Delay: time.Second, ParkedDelay: time.Minute},
		Radio: rad, PingDue: client.KeepAliveDue, Logger: quietLogger()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Run(ctx)
	wait.For(t, 5*time.Second, "the client to connect", func() bool { up, _ := client.State(); return up })
	go sender.Run(ctx)

	// Let the radio fall idle after the connection, then park: six
	// points a few metres apart, as a parked receiver wanders.
	time.Sleep(3 * time.Second)
	t0 := time.Now()
	parked := wire.Point{Created: t0.Unix(), Latitude: 48.137154, Longitude: 11.576124, HDOP: 0.8, Mode: 3}
	for i := range 6 {
		p := parked
		p.Created += int64(i)
		p.Latitude += float64(i%3) * 2e-5
		if _, err := q.Append(&p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	wait.For(t, keepAlive, "the parked points", func() bool { _, s := got.snapshot(); return len(s) > 0 })
	at, seqs := got.snapshot()
	if len(seqs) != 1 || len(seqs[0]) != 6 {
		t.Fatalf("the parked points came as %v: want one message of 6", seqs)
	}
	// Held until the keep-alive was nearly due (12 s after the
	// connection, less 5 s), not sent as they came.
	if held := at[0].Sub(t0); held < 2*time.Second {
		t.Errorf("the parked points went %v after the first: not held", held)
	}
	if strings.Contains(broker.Log(), "PINGREQ from dev-hold") {
		t.Errorf("the keep-alive pinged although held points could go in its place:\n%s", broker.Log())
	}
	if st := sender.Stats(); st.Held != 1 {
		t.Errorf("sender stats %+v: want 1 held batch", st)
	}

	// Walking off: a point 50 m away goes at once.
	time.Sleep(2500 * time.Millisecond) // the radio idle again
	moved := parked
	moved.Created += 60
	moved.Latitude += 50.0 / 111195
	moved.Speed = 4
	sent := time.Now()
	if _, err := q.Append(&moved); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the point that moved", func() bool { _, s := got.snapshot(); return len(s) == 2 })
	if at, _ := got.snapshot(); at[1].Sub(sent) > 2*time.Second {
		t.Errorf("the point that moved went %v after it was stored: held", at[1].Sub(sent))
	}
}
