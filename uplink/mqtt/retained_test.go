package mqtt_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// A retained message planted on a handset's event topic (a forged
// "group deleted") is never delivered to Subscribe's handler; live messages
// are. SubscribeRetained (presence) gets retained messages.
func TestRetainedMessagesOnlyWhereAskedFor(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	pub := publisher(t, b.URL(), "planter")
	pub.Publish("ptt/dev/dev-r/event", 1, true, []byte(`{"msg_type":"corp-group-delete"}`)).Wait()
	pub.Publish("ptt/dev/dev-x/status", 1, true, []byte(`{"state":"online"}`)).Wait()
	defer pub.Publish("ptt/dev/dev-r/event", 1, true, nil).Wait()
	defer pub.Publish("ptt/dev/dev-x/status", 1, true, nil).Wait()

	c := quickClient(b.URL(), "dev-r")
	var events, presence atomic.Int32
	c.Subscribe("ptt/dev/dev-r/event", 1, func(string, []byte) { events.Add(1) })
	c.SubscribeRetained("ptt/dev/+/status", 1, func(string, []byte) { presence.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	wait.For(t, 10*time.Second, "the retained presence", func() bool { return presence.Load() > 0 })
	wait.For(t, 10*time.Second, "the planted event dropped", func() bool { return c.Stats().Retained == 1 })
	pub.Publish("ptt/dev/dev-r/event", 1, false, []byte(`{"msg_type":"corp-member-change"}`)).Wait()
	wait.For(t, 10*time.Second, "the live event", func() bool { return events.Load() == 1 })
}
