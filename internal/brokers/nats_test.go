package brokers_test

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/brokers"
	"github.com/pttagent/pttagent/internal/wait"
)

// inbox collects what a subscription received.
type inbox struct {
	mu   sync.Mutex
	msgs []paho.Message
}

func (b *inbox) add(_ paho.Client, m paho.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) all() []paho.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]paho.Message(nil), b.msgs...)
}

func (b *inbox) n() int { return len(b.all()) }

func connect(t *testing.T, url, id string, o func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	po := paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(false)
	if o != nil {
		o(po)
	}
	c := paho.NewClient(po)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func sub(t *testing.T, c paho.Client, filter string, qos byte, b *inbox) {
	t.Helper()
	tok := c.Subscribe(filter, qos, b.add)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
}

func pub(t *testing.T, c paho.Client, topic string, qos byte, retained bool, payload string) {
	t.Helper()
	if tok := c.Publish(topic, qos, retained, []byte(payload)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func startCluster(t *testing.T) *brokers.Cluster {
	t.Helper()
	c, err := brokers.StartNATS(brokers.NATSOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// What the project relies on, and what it met, of MQTT on a NATS cluster
// (docs/fleet.md): each subtest pins one behaviour of the server version
// go.mod names.
func TestMQTTOnNATSCluster(t *testing.T) {
	c := startCluster(t)
	n1, n2, n3 := c.Nodes[0].URL(), c.Nodes[1].URL(), c.Nodes[2].URL()

	t.Run("retained state is the cluster's", func(t *testing.T) {
		p := connect(t, n1, "ret-pub", nil)
		pub(t, p, "ptt/dev/r1/status", 1, true, "online")
		var b inbox
		sub(t, connect(t, n3, "ret-sub", nil), "ptt/dev/+/status", 1, &b)
		wait.For(t, 5*time.Second, "the retained message on another node", func() bool { return b.n() == 1 })
		if m := b.all()[0]; !m.Retained() || string(m.Payload()) != "online" {
			t.Fatalf("got retained=%v %q", m.Retained(), m.Payload())
		}
	})

	t.Run("a will is published when a client vanishes from a live node", func(t *testing.T) {
		var w inbox
		sub(t, connect(t, n3, "will-watch", nil), "ptt/dev/w1/status", 1, &w)
		var conn net.Conn
		connect(t, n2, "w1", func(o *paho.ClientOptions) {
			o.SetBinaryWill("ptt/dev/w1/status", []byte("offline"), 1, true)
			o.SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
				var err error
				conn, err = net.Dial("tcp", u.Host)
				return conn, err
			})
		})
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		wait.For(t, 10*time.Second, "the will on another node", func() bool { return w.n() == 1 })
		if string(w.all()[0].Payload()) != "offline" {
			t.Fatalf("will %q", w.all()[0].Payload())
		}
	})

	t.Run("QoS 2 is served", func(t *testing.T) {
		var b inbox
		sub(t, connect(t, n1, "q2-sub", nil), "q2/x", 2, &b)
		pub(t, connect(t, n2, "q2-pub", nil), "q2/x", 2, false, "once")
		wait.For(t, 5*time.Second, "the QoS 2 message", func() bool { return b.n() == 1 })
	})

	t.Run("$share is not a shared subscription", func(t *testing.T) {
		var a, s inbox
		sub(t, connect(t, n1, "share-a", nil), "$share/g/sh/x", 1, &s)
		sub(t, connect(t, n1, "plain", nil), "sh/x", 1, &a)
		pub(t, connect(t, n2, "share-pub", nil), "sh/x", 1, false, "m")
		wait.For(t, 5*time.Second, "the plain subscriber", func() bool { return a.n() == 1 })
		time.Sleep(300 * time.Millisecond)
		if s.n() != 0 {
			t.Fatalf("$share subscriber got %d messages; NATS now serves shared subscriptions: update docs/fleet.md", s.n())
		}
	})

	t.Run("a client id with a dot is refused, a topic with one is not", func(t *testing.T) {
		// device.account allows '.', and it is the client id: NATS refuses
		// '.', '*', '>' and white space there (they are special in its
		// subjects), answering with the connection closed.
		pc := paho.NewClient(paho.NewClientOptions().AddBroker(n1).SetClientID("unit.7").SetAutoReconnect(false))
		if tok := pc.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			pc.Disconnect(50)
			t.Fatal("NATS accepted the client id unit.7: update docs/fleet.md")
		}
		var b inbox
		sub(t, connect(t, n3, "dot-sub", nil), "ptt/dev/+/track", 1, &b)
		pub(t, connect(t, n1, "unit7", nil), "ptt/dev/unit.7/track", 1, false, "p")
		wait.For(t, 5*time.Second, "the message", func() bool { return b.n() == 1 })
		if got := b.all()[0].Topic(); got != "ptt/dev/unit.7/track" {
			t.Errorf("topic %q", got)
		}
	})

	t.Run("a persistent session keeps QoS 1 messages while away", func(t *testing.T) {
		opts := func(o *paho.ClientOptions) { o.SetCleanSession(false) }
		var b inbox
		s := paho.NewClient(paho.NewClientOptions().AddBroker(n1).SetClientID("persist").SetCleanSession(false).SetAutoReconnect(false))
		if tok := s.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		sub(t, s, "per/x", 1, &b)
		s.Disconnect(50)
		pub(t, connect(t, n2, "per-pub", nil), "per/x", 1, false, "kept")
		// Back on another node: the session is the cluster's.
		s2 := connect(t, n3, "persist", func(o *paho.ClientOptions) {
			opts(o)
			o.SetDefaultPublishHandler(b.add)
		})
		_ = s2
		wait.For(t, 10*time.Second, "the message kept for the session", func() bool { return b.n() == 1 })
	})
}

// A node that dies takes its clients' wills with it (nothing is published
// for them, then or when it comes back); their client ids are taken
// elsewhere at once or only once the cluster gave up on the dead node's
// JetStream requests (logged: what a handset's failover waits for).
func TestNodeDeath(t *testing.T) {
	c := startCluster(t)
	n1, n2, n3 := c.Nodes[0].URL(), c.Nodes[1].URL(), c.Nodes[2].URL()
	var w inbox
	sub(t, connect(t, n3, "watch", nil), "ptt/dev/+/status", 1, &w)
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(n1).SetClientID("h1").SetAutoReconnect(false).
		SetBinaryWill("ptt/dev/h1/status", []byte("offline"), 1, true))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub(t, cl, "ptt/dev/h1/status", 1, true, "online")
	wait.For(t, 5*time.Second, "online", func() bool { return w.n() == 1 })

	began := time.Now()
	c.Kill(0)
	var again paho.Client
	for tries := 1; ; tries++ {
		again = paho.NewClient(paho.NewClientOptions().AddBroker(n2).SetClientID("h1").SetAutoReconnect(false))
		t0 := time.Now()
		tok := again.Connect()
		if tok.WaitTimeout(15*time.Second) && tok.Error() == nil {
			t.Logf("the client id was taken on n2 %v after the kill, at try %d", time.Since(began).Round(time.Millisecond), tries)
			break
		}
		t.Logf("try %d at %v: %v after %v", tries, t0.Sub(began).Round(time.Millisecond), tok.Error(), time.Since(t0).Round(time.Millisecond))
		if time.Since(began) > time.Minute {
			t.Fatal("the client id was refused for a minute")
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer func() { again.Disconnect(50) }()
	// As a handset would: until the broker acknowledges it, reconnecting
	// when the node drops the connection (a QoS 1 store that waited on
	// the dead node's JetStream leader: docs/fleet.md).
	wait.For(t, 30*time.Second, "online-again acknowledged", func() bool {
		if !again.IsConnectionOpen() {
			again = paho.NewClient(paho.NewClientOptions().AddBroker(n2).SetClientID("h1").SetAutoReconnect(false))
			if tok := again.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
				return false
			}
		}
		tok := again.Publish("ptt/dev/h1/status", 1, true, []byte("online-again"))
		return tok.WaitTimeout(10*time.Second) && tok.Error() == nil
	})
	wait.For(t, 30*time.Second, "online again, live at the watcher", func() bool { return w.n() == 2 })

	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	// Which retained status each node serves afterwards is not certain:
	// in some runs a restarted node served the status from before its
	// death for as long as we asked, and once every node did — the one
	// published (and acknowledged) during the election never became the
	// retained state. Seen, logged, not asserted (docs/fleet.md).
	for i, url := range []string{n1, n2, n3} {
		var r inbox
		sub(t, connect(t, url, fmt.Sprintf("late-%d", i), nil), "ptt/dev/h1/status", 1, &r)
		wait.For(t, 5*time.Second, "a retained status on "+url, func() bool { return r.n() == 1 })
		t.Logf("node %d serves %q", i+1, r.all()[0].Payload())
	}
	for _, m := range w.all() {
		if string(m.Payload()) == "offline" {
			t.Errorf("a will was published for a client of the dead node; docs/fleet.md says none is")
		}
	}
}
