package alert_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// platform is a subscriber to every device's emergency messages that
// keeps them and acknowledges each, as the platform does.
type platform struct {
	cli  paho.Client
	mu   sync.Mutex
	got  []wire.Emergency
	deaf bool // receives without acknowledging
}

func startPlatform(t *testing.T, url string) *platform {
	p := &platform{}
	o := paho.NewClientOptions().AddBroker(url).SetClientID("platform").SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(wire.AllEmergency("ptt"), 1, func(c paho.Client, m paho.Message) {
				e, err := wire.DecodeEmergency(m.Payload())
				if err != nil {
					t.Errorf("the platform got a bad message: %v", err)
					return
				}
				p.mu.Lock()
				p.got = append(p.got, e)
				deaf := p.deaf
				p.mu.Unlock()
				if !deaf {
					acct := wire.DeviceOf("ptt", m.Topic())
					c.Publish(wire.EmergencyCtlTopic("ptt", acct), 1, false,
						wire.Emergency{Type: wire.EmergencyAck, ID: e.ID, Of: e.Type, TimeMs: time.Now().UnixMilli()}.Encode())
				}
			})
		})
	p.cli = paho.NewClient(o)
	p.cli.Connect()
	t.Cleanup(func() { p.cli.Disconnect(50) })
	return p
}

func (p *platform) received() []wire.Emergency {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]wire.Emergency(nil), p.got...)
}

func handset(t *testing.T, url string) (*mqtt.Client, func()) {
	c := mqtt.New(mqtt.Options{Brokers: []string{url}, ClientID: "c", KeepAlive: 5 * time.Second,
		ConnectTimeout: 2 * time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	return c, func() { cancel(); <-done }
}

func run(o *alert.Outbox) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// Against a real mosquitto: the broker is down when SOS is pressed, and
// the handset restarts before it is back — the alert reaches the
// platform all the same, once the broker is back, and leaves the disk
// only when the platform has acknowledged it. A platform that is down
// while the broker is up (the broker takes the message and drops it: no
// subscriber) gets it when it comes back.
func TestOutageAndRestartAgainstMosquitto(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	dir := t.TempDir()
	topics := wire.Topics{Prefix: "ptt", Account: "c"}
	msg := wire.Emergency{Type: wire.EmergencyAlert, ID: "1763712000123-9f3a", Group: 7, TimeMs: 1763712000123,
		Fix: &wire.EmergencyFix{Latitude: 22.5, Longitude: 113.1, Mode: 3, Created: 1763712000, Age: 0}}

	b.Stop()
	link, stopLink := handset(t, b.URL())
	o, err := alert.Open(dir, link, topics, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopRun := run(o)
	if err := o.Send(msg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	stopRun()
	stopLink() // the handset goes down with the alert on its disk

	b.Start()
	p := startPlatform(t, b.URL())
	wait.For(t, 10*time.Second, "the platform connected", p.cli.IsConnectionOpen)
	link, stopLink = handset(t, b.URL())
	defer stopLink()
	o, err = alert.Open(dir, link, topics, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := o.Stats(); s.Pending != 1 {
		t.Fatalf("after the restart: %+v", s)
	}
	defer run(o)()
	wait.For(t, 10*time.Second, "the platform has the alert", func() bool { return len(p.received()) > 0 })
	if got := p.received()[0]; got.ID != msg.ID || got.Group != 7 || got.Fix == nil || got.Fix.Latitude != 22.5 {
		t.Errorf("the platform got %+v", got)
	}
	wait.For(t, 10*time.Second, "the acknowledgement", func() bool { return o.Stats().Pending == 0 })

	// The platform is deaf (down, as far as the handset can tell) while
	// the broker is up: the cancel goes again until it answers.
	p.mu.Lock()
	p.deaf = true
	p.mu.Unlock()
	o.RetryMin, o.RetryMax = 100*time.Millisecond, 200*time.Millisecond
	if err := o.Send(wire.Emergency{Type: wire.EmergencyCancel, ID: msg.ID, TimeMs: msg.TimeMs + 60000}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, "the cancel sent again", func() bool { return o.Stats().Resent >= 2 })
	p.mu.Lock()
	p.deaf = false
	p.mu.Unlock()
	wait.For(t, 10*time.Second, "the cancel acknowledged", func() bool { return o.Stats().Pending == 0 })
	if es, _ := readDir(dir); len(es) != 0 {
		t.Errorf("left on disk: %v", es)
	}
}

func readDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names, err
}
