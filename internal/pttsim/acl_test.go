package pttsim_test

import (
	"crypto/tls"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// oldACL is what docs/protocol.md documented before issue 13: identity
// from the client id (%c), which the device chooses.
const oldACL = "pattern write ptt/dev/%c/#\npattern read ptt/dev/%c/event\npattern read ptt/dev/%c/floor/ctl\n" +
	"pattern read ptt/dev/%c/media/ctl\npattern read ptt/group/+/voice/+\n" +
	"user platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\ntopic write ptt/dev/+/floor/ctl\n" +
	"topic write ptt/dev/+/media/ctl\ntopic write ptt/group/+/voice/+\n"

// The broker as deploy/mosquitto ships it carries push-to-talk: a device
// sends floor requests, voice, recording reports and media requests below
// its own tree and reads its floor messages, its media sessions and the
// groups' relayed voice; only the platform writes floor messages and
// relayed voice, so a device can neither grant itself the floor nor be
// heard without it. Media sessions carry SRTP keys: a device reads only its
// own. Identity is the login: device 1 logging in with its own password
// and device 2's client id stays device 1 — under the old ACL it read
// device 2's floor messages and SRTP keys (issue 13, item 1), which the
// old-ACL case shows the test would see.
func TestDocumentedACLCarriesPushToTalk(t *testing.T) {
	users := map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"}
	for _, tc := range []struct {
		name    string
		start   func(t *testing.T) *aclLab
		blocked bool
	}{
		{"old %c ACL", func(t *testing.T) *aclLab {
			b := mqtttest.Start(t, mqtttest.Options{ACL: oldACL, Passwords: users})
			return &aclLab{t: t, url: b.URL(), users: users}
		}, false},
		{"deploy/mosquitto", func(t *testing.T) *aclLab { return newACLLab(t, "mosquitto.conf", users) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.start(t)
			plat := l.connect("platform", "ptt/dev/+/floor", "ptt/dev/+/voice/+", "ptt/dev/+/record", "ptt/dev/+/media")
			l.connect("dev-2", "ptt/dev/dev-2/floor/ctl", "ptt/dev/dev-2/media/ctl")
			// Device 1 with device 2's client id, listening to both trees.
			dev := l.connectAs("dev-1", "dev-2", "ptt/dev/dev-1/floor/ctl", "ptt/group/+/voice/+", "ptt/dev/dev-2/floor/ctl",
				"ptt/dev/dev-1/media/ctl", "ptt/dev/dev-2/media/ctl")
			pub := func(c paho.Client, topic, payload string) { l.pub(c, topic, payload, false) }
			pub(dev, "ptt/dev/dev-1/floor", "request")
			pub(dev, "ptt/dev/dev-1/voice/5", "voice")
			pub(dev, "ptt/dev/dev-1/record", "report")
			pub(dev, "ptt/dev/dev-1/media", "media request")
			pub(plat, "ptt/dev/dev-1/media/ctl", "keys")
			pub(plat, "ptt/dev/dev-2/media/ctl", "dev-2's keys")
			pub(dev, "ptt/group/5/voice/dev-1", "spoofed relay")
			pub(dev, "ptt/dev/dev-1/floor/ctl", "self grant")
			pub(dev, "ptt/dev/dev-2/floor/ctl", "grant to dev-2")
			pub(plat, "ptt/dev/dev-1/floor/ctl", "granted")
			pub(plat, "ptt/dev/dev-2/floor/ctl", "not for dev-1")
			pub(plat, "ptt/group/5/voice/dev-1", "relayed")
			pub(plat, "ptt/dev/dev-1/floor/ctl", "marker")
			if !tc.blocked {
				wait.For(t, 5*time.Second, "the attack to read device 2's keys", func() bool {
					return slices.Contains(l.seen(), "dev-1 ptt/dev/dev-2/media/ctl dev-2's keys")
				})
				return
			}
			l.expect(
				"platform ptt/dev/dev-1/floor request", "platform ptt/dev/dev-1/voice/5 voice",
				"platform ptt/dev/dev-1/record report", "dev-1 ptt/dev/dev-1/floor/ctl granted",
				"dev-1 ptt/group/5/voice/dev-1 relayed", "dev-1 ptt/dev/dev-1/floor/ctl marker",
				"platform ptt/dev/dev-1/media media request", "dev-1 ptt/dev/dev-1/media/ctl keys",
				"dev-2 ptt/dev/dev-2/floor/ctl not for dev-1", "dev-2 ptt/dev/dev-2/media/ctl dev-2's keys",
			)
		})
	}
}

// aclLab is a broker with password logins — a shipped configuration or
// an ACL under test — and clients whose every received message is noted
// as "user topic payload".
type aclLab struct {
	t     *testing.T
	url   string
	tls   *tls.Config
	users map[string]string
	mu    sync.Mutex
	got   []string
}

// newACLLab starts conf of deploy/mosquitto.
func newACLLab(t *testing.T, conf string, users map[string]string) *aclLab {
	b, ca := mqtttest.Deployed(t, conf, mqtttest.Options{Passwords: users})
	return &aclLab{t: t, url: b.URLAt(0), tls: ca.TLS(t, ""), users: users}
}

// Deliveries go into a slice, not a channel: paho's callbacks may still
// run after the test has read what it waits for.
func (l *aclLab) seen() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.got) }

func (l *aclLab) connect(user string, subs ...string) paho.Client {
	return l.connectAs(user, user, subs...)
}

// connectAs logs in as user with client id id.
func (l *aclLab) connectAs(user, id string, subs ...string) paho.Client {
	t := l.t
	c := paho.NewClient(paho.NewClientOptions().AddBroker(l.url).SetClientID(id).SetUsername(user).
		SetPassword(l.users[user]).SetTLSConfig(l.tls).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", user, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	for _, s := range subs {
		c.Subscribe(s, 1, func(_ paho.Client, m paho.Message) {
			l.mu.Lock()
			l.got = append(l.got, user+" "+m.Topic()+" "+string(m.Payload()))
			l.mu.Unlock()
		}).WaitTimeout(5 * time.Second)
	}
	return c
}

func (l *aclLab) pub(c paho.Client, topic, payload string, retained bool) {
	c.Publish(topic, 1, retained, payload).WaitTimeout(5 * time.Second)
}

// expect waits for every message of want and then checks that nothing
// else came through.
func (l *aclLab) expect(want ...string) {
	t := l.t
	t.Helper()
	missing := func() []string {
		var out []string
		for _, m := range want {
			if !slices.Contains(l.seen(), m) {
				out = append(out, m)
			}
		}
		return out
	}
	defer func() {
		if t.Failed() {
			t.Logf("missing %v; got %v", missing(), l.seen())
		}
	}()
	wait.For(t, 5*time.Second, "every message the ACL lets through", func() bool { return len(missing()) == 0 })
	// What the ACL wrongly let through would have come by now.
	time.Sleep(100 * time.Millisecond)
	for _, m := range l.seen() {
		if !slices.Contains(want, m) {
			t.Errorf("the ACL let through: %s", m)
		}
	}
}
