package mqtt_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// Handlers see a topic's messages in the order they were published: the
// platform's de-duplication ("drop a seq not above the highest") and the
// floor messages rely on it. paho's unordered mode once reordered them.
func TestHandlersSeeMessagesInOrder(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	c := mqtt.New(mqtt.Options{Brokers: []string{b.URL()}, ClientID: "ordered", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var mu sync.Mutex
	var got []int
	c.Subscribe("order/test", 1, func(_ string, payload []byte) {
		n, _ := strconv.Atoi(string(payload))
		time.Sleep(time.Duration(n%3) * time.Millisecond) // uneven handler times
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	wait.For(t, 5*time.Second, "the connection", func() bool { up, _ := c.State(); return up })
	time.Sleep(200 * time.Millisecond) // the subscription is in place

	pub := publisher(t, b.URL(), "publisher")
	const n = 200
	var toks []paho.Token
	for i := 1; i <= n; i++ {
		toks = append(toks, pub.Publish("order/test", 1, false, strconv.Itoa(i)))
	}
	for _, tok := range toks {
		tok.WaitTimeout(5 * time.Second)
	}
	wait.For(t, 10*time.Second, "every message handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("message %d handled at position %d: out of order", v, i)
		}
	}
}

// A Subscribe racing a (re)connect is never lost: every filter subscribed
// while connections come and go receives its messages afterwards.
func TestSubscribeRacingAConnectIsKept(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	proxy := mqtttest.NewProxy(t, b.Addr())
	c := mqtt.New(mqtt.Options{Brokers: []string{proxy.URL()}, ClientID: "racer", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: time.Millisecond, ReconnectMax: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)

	var mu sync.Mutex
	got := map[string]bool{}
	const n = 40
	for i := 0; i < n; i++ {
		proxy.Cut()
		proxy.Restore()
		// Subscribe while the client reconnects: before, during and just
		// after the link comes up.
		filter := "race/" + strconv.Itoa(i)
		time.Sleep(time.Duration(i%5) * time.Millisecond / 2)
		c.Subscribe(filter, 1, func(topic string, _ []byte) {
			mu.Lock()
			got[topic] = true
			mu.Unlock()
		})
		wait.For(t, 5*time.Second, "the reconnect", func() bool { up, _ := c.State(); return up })
	}
	time.Sleep(300 * time.Millisecond) // the last SUBACKs
	pub := publisher(t, b.URL(), "racepub")
	defer func() {
		if !t.Failed() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		var lost []string
		for i := 0; i < n; i++ {
			if f := "race/" + strconv.Itoa(i); !got[f] {
				lost = append(lost, f)
			}
		}
		t.Logf("subscriptions lost across reconnects: %v", lost)
	}()
	wait.For(t, 10*time.Second, "a message on every filter subscribed", func() bool {
		for i := 0; i < n; i++ {
			pub.Publish("race/"+strconv.Itoa(i), 1, false, "x").WaitTimeout(time.Second)
		}
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n
	})
}
