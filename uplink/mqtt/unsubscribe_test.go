package mqtt_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// Unsubscribe stops the messages now and keeps a reconnect from
// restoring the subscription (push-to-talk follows the active group's
// voice this way).
func TestUnsubscribe(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	c := quickClient(b.URL(), "dev-unsub")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	var got atomic.Int32
	c.Subscribe("ptt/group/1/voice/+", 0, func(string, []byte) { got.Add(1) })
	pub := publisher(t, b.URL(), "pub")
	var probes atomic.Int32
	c.Subscribe("ptt/probe", 1, func(string, []byte) { probes.Add(1) })
	// publishUntil publishes on topic until cond holds.
	publishUntil := func(what, topic string, cond func() bool) {
		t.Helper()
		wait.For(t, 10*time.Second, what, func() bool {
			if cond() {
				return true
			}
			pub.Publish(topic, 0, false, []byte("v")).Wait()
			return false
		})
	}
	publishUntil("a message", "ptt/group/1/voice/x", func() bool { return got.Load() > 0 })
	c.Unsubscribe("ptt/group/1/voice/+")
	// Restart the broker: the client reconnects without the subscription
	// (and with the other one: a probe arrives again).
	b.Stop()
	b.Start()
	n := got.Load()
	p := probes.Load()
	publishUntil("both clients back", "ptt/probe", func() bool { return probes.Load() > p })
	for range 10 {
		pub.Publish("ptt/group/1/voice/x", 0, false, []byte("v")).Wait()
	}
	p = probes.Load()
	publishUntil("a probe after the voice", "ptt/probe", func() bool { return probes.Load() > p })
	if d := got.Load() - n; d != 0 {
		t.Errorf("%d messages after Unsubscribe", d)
	}
}
