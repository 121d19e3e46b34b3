package mqtt_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/brokers"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt"
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
	c := mqtt.New(mqtt.Options{Brokers: []string{cl.Nodes[0].URL()}, ClientID: "dev-refused", KeepAlive: 5 * time.Second,
		ConnectTimeout: 3 * time.Second, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
