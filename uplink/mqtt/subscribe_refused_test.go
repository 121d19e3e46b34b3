package mqtt_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/brokers"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// A subscription the broker refuses (SUBACK failure) is noticed and tried
// again on the same link, not left silently missing until the next
// reconnect. A NATS node refuses a QoS 1 subscription while its JetStream
// elects a leader (docs/fleet.md); it refuses a filter with white space
// always, which is the refusal used here. (mosquitto 2.0 grants what its
// ACL denies and delivers nothing.)
func TestRefusedSubscriptionIsTriedAgain(t *testing.T) {
	cl, err := brokers.StartNATS(brokers.NATSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	c := quickClient(cl.Nodes[0].URL(), "dev-refused")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	c.Subscribe("ptt/open/x", 1, func(string, []byte) {})
	c.Subscribe("ptt/not allowed", 1, func(string, []byte) {})
	wait.For(t, 10*time.Second, "the refusal noticed and the subscription tried again", func() bool {
		return c.Stats().SubscribeRefused >= 2
	})
	if st := c.Stats(); !st.Connected || st.Connects != 1 {
		t.Errorf("a refused subscription must not cost the connection: %+v", st)
	}
	// Forgotten, it is not tried again.
	c.Unsubscribe("ptt/not allowed")
	n := c.Stats().SubscribeRefused
	time.Sleep(2500 * time.Millisecond)
	if m := c.Stats().SubscribeRefused; m > n+1 {
		t.Errorf("still tried after Unsubscribe: %d refusals, then %d", n, m)
	}
}

// A SUBACK that comes later than the connect timeout is still waited for
// on a live link: a NATS node answers each QoS 1 subscription only after
// making its JetStream consumer, 5 s a try while its cluster elects
// leaders. Giving up on the answer lost the refusal behind it, and the
// handset its floor answers until the next reconnect.
func TestSlowSubAckIsWaitedFor(t *testing.T) {
	cl, err := brokers.StartNATS(brokers.NATSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	proxy := slowSubAcks(t, strings.TrimPrefix(cl.Nodes[0].URL(), "tcp://"), 2500*time.Millisecond)
	c := mqtt.New(mqtt.Options{Brokers: []string{"tcp://" + proxy}, ClientID: "dev-slow", KeepAlive: 10 * time.Second,
		ConnectTimeout: time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	c.Subscribe("ptt/not allowed", 1, func(string, []byte) {})
	wait.For(t, 15*time.Second, "the late refusal noticed", func() bool { return c.Stats().SubscribeRefused >= 1 })
	if st := c.Stats(); !st.Connected || st.Connects != 1 {
		t.Errorf("a slow SUBACK must not cost the connection: %+v", st)
	}
}

// slowSubAcks is a TCP proxy to upstream that holds every SUBACK (and
// what follows it) for d.
func slowSubAcks(t *testing.T, upstream string, d time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			down, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			t.Cleanup(func() { down.Close(); up.Close() })
			go io.Copy(up, down)
			go func() {
				r := bufio.NewReader(up)
				for {
					pkt, err := mqtttest.ReadPacket(r)
					if err != nil {
						down.Close()
						return
					}
					if pkt[0]>>4 == 9 { // SUBACK
						time.Sleep(d)
					}
					if _, err := down.Write(pkt); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// The SUBACKs measure the broker's round trip (push-to-talk starts a new
// speaker from how much it varies): here every SUBACK is held 200 ms.
func TestRoundTripFromSubAcks(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	proxy := slowSubAcks(t, strings.TrimPrefix(b.URL(), "tcp://"), 200*time.Millisecond)
	c := mqtt.New(mqtt.Options{Brokers: []string{"tcp://" + proxy}, ClientID: "dev-rtt", KeepAlive: 10 * time.Second,
		ConnectTimeout: 3 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, _, ok := c.RoundTrip(); ok {
		t.Fatal("a round trip before any SUBACK")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	c.Subscribe("ptt/a", 1, func(string, []byte) {})
	c.Subscribe("ptt/b", 0, func(string, []byte) {})
	wait.For(t, 10*time.Second, "two SUBACKs", func() bool { return c.Stats().RTTMs > 0 })
	srtt, rttvar, ok := c.RoundTrip()
	if !ok || srtt < 200*time.Millisecond || srtt > 2*time.Second || rttvar <= 0 {
		t.Errorf("round trip %v ± %v (ok %v), want ≥ 200 ms", srtt, rttvar, ok)
	}
	if st := c.Stats(); st.RTTMs < 200 || st.RTTVarMs <= 0 {
		t.Errorf("stats: rtt %.1f ms ± %.1f", st.RTTMs, st.RTTVarMs)
	}
}
