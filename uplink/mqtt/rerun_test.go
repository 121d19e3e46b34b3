package mqtt_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// Run may be called again after it returned — also when it was stopped
// in the middle of a connect — and the client comes back with its
// subscriptions (push-to-talk's voice copy connects only around talk).
func TestRunAgain(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	c := quickClient(b.URL(), "dev-rerun")
	var got atomic.Int32
	c.Subscribe("ptt/group/1/voice/+", 0, func(string, []byte) { got.Add(1) })
	pub := publisher(t, b.URL(), "pub")
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		return func() {
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
		}
	}
	for i := range 3 {
		stop := run()
		n := got.Load()
		wait.For(t, 10*time.Second, "a message", func() bool {
			if got.Load() > n {
				return true
			}
			pub.Publish("ptt/group/1/voice/x", 0, false, []byte("v")).Wait()
			return false
		})
		stop()
		if up, _ := c.State(); up {
			t.Fatalf("round %d: up after Run returned", i)
		}
		// Stopped at once: cancelled while connecting.
		run()()
	}
	// And once stopped it hears nothing.
	time.Sleep(300 * time.Millisecond)
	n := got.Load()
	for range 5 {
		pub.Publish("ptt/group/1/voice/x", 0, false, []byte("v")).Wait()
	}
	time.Sleep(300 * time.Millisecond)
	if d := got.Load() - n; d != 0 {
		t.Errorf("%d messages after the last Run returned", d)
	}
}
