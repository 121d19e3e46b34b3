package mqtt_test

import (
	"bytes"
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// A hostile or misconfigured publisher's 64 MB retained message on a
// handset's topic is dropped unread: the handset stays connected, keeps
// receiving the messages around it, and does not allocate for it — also
// not when the broker hands the retained message over again after a
// reconnect. (paho alone read it whole before any size check: a 100 MB
// one took a handset from 24 to 215 MB.)
func TestOversizedMessageIsDroppedUnread(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	link := mqtttest.NewProxy(t, b.Addr())
	c := quickClient(link.URL(), "dev-big")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	wait.For(t, 10*time.Second, "the client connected", func() bool { up, _ := c.State(); return up })

	pub := publisherWith(t, paho.NewClientOptions().AddBroker(b.URL()).SetClientID("pub").SetWriteTimeout(30*time.Second))
	const big = 64 << 20
	if tok := pub.Publish("ptt/dev/dev-big/event", 1, true, bytes.Repeat([]byte("x"), big)); !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
		t.Fatalf("publishing the big message: %v", tok.Error())
	}
	defer pub.Publish("ptt/dev/dev-big/event", 1, true, nil).Wait() // clear the retained message

	var small, large atomic.Int32
	c.Subscribe("ptt/dev/dev-big/#", 1, func(_ string, p []byte) {
		if len(p) > 1000 {
			large.Add(1)
		} else {
			small.Add(1)
		}
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; ; i++ {
		pub.Publish("ptt/dev/dev-big/floor/ctl", 1, false, []byte("small")).Wait()
		if small.Load() > 0 {
			break
		}
		if i > 500 {
			t.Fatal("no small message arrived after the big one")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wait.For(t, 10*time.Second, "the drop counted", func() bool { return c.Stats().Oversize == 1 })
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.TotalAlloc - before.TotalAlloc); grew > big/4 {
		t.Errorf("%d MB allocated while the %d MB message passed", grew>>20, big>>20)
	}
	if st := c.Stats(); large.Load() != 0 || !st.Connected || st.Reconnects != 0 || st.OversizeLargest < big {
		t.Errorf("large delivered %d times, stats %+v", large.Load(), st)
	}

	// After a reconnect (the handset's link dropped) the broker sends the
	// retained message again: dropped again, and the client stays up.
	link.Cut()
	link.Restore()
	wait.For(t, 20*time.Second, "the retained message dropped again after the reconnect", func() bool { return c.Stats().Oversize == 2 })
	n := small.Load()
	wait.For(t, 10*time.Second, "a small message after the reconnect", func() bool {
		pub.Publish("ptt/dev/dev-big/floor/ctl", 1, false, []byte("small")).Wait()
		return small.Load() > n
	})
	if large.Load() != 0 {
		t.Error("the big message reached the handler")
	}
}
