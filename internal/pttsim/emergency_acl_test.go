package pttsim_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// aclLab is a shipped broker configuration with password logins, and
// clients whose every received message is noted as "user topic payload".
type aclLab struct {
	t     *testing.T
	url   string
	ca    *mqtttest.CA
	users map[string]string
	mu    sync.Mutex
	got   []string
}

func newACLLab(t *testing.T, conf string, users map[string]string) *aclLab {
	b, ca := mqtttest.Deployed(t, conf, mqtttest.Options{Passwords: users})
	return &aclLab{t: t, url: b.URLAt(0), ca: ca, users: users}
}

func (l *aclLab) seen() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.got) }

func (l *aclLab) connect(user string, subs ...string) paho.Client {
	t := l.t
	c := paho.NewClient(paho.NewClientOptions().AddBroker(l.url).SetClientID(user).SetUsername(user).
		SetPassword(l.users[user]).SetTLSConfig(l.ca.TLS(t, "")).SetAutoReconnect(false))
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
	wait.For(t, 5*time.Second, "every message the ACL lets through", func() bool {
		for _, m := range want {
			if !slices.Contains(l.seen(), m) {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond)
	for _, m := range l.seen() {
		if !slices.Contains(want, m) {
			t.Errorf("the ACL let through: %s", m)
		}
	}
}

// The shipped broker carries emergency alerts: a device publishes its
// own and reads its own acknowledgements; it can neither acknowledge its
// own alert (which would drop it from its disk unread), nor raise one as
// another device, nor read another's acknowledgements; the platform
// reads every alert and acknowledges.
func TestShippedACLCarriesEmergencies(t *testing.T) {
	l := newACLLab(t, "mosquitto.conf", map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"})
	plat := l.connect("platform", "ptt/dev/+/emergency")
	l.connect("dev-2", "ptt/dev/dev-2/emergency/ctl")
	dev := l.connect("dev-1", "ptt/dev/dev-1/emergency/ctl", "ptt/dev/dev-2/emergency/ctl", "ptt/dev/+/emergency")
	l.pub(dev, "ptt/dev/dev-1/emergency", "alert", false)
	l.pub(dev, "ptt/dev/dev-2/emergency", "alert as dev-2", false)
	l.pub(dev, "ptt/dev/dev-1/emergency/ctl", "self ack", false)
	l.pub(plat, "ptt/dev/dev-1/emergency/ctl", "ack", false)
	l.pub(plat, "ptt/dev/dev-2/emergency/ctl", "dev-2's ack", false)
	l.pub(plat, "ptt/dev/dev-1/emergency/ctl", "marker", false)
	l.expect("platform ptt/dev/dev-1/emergency alert", "dev-1 ptt/dev/dev-1/emergency/ctl ack",
		"dev-2 ptt/dev/dev-2/emergency/ctl dev-2's ack", "dev-1 ptt/dev/dev-1/emergency/ctl marker")
}

// Every device reads the platform's retained capabilities, and none can
// write them (a device that could would make its fleet send track
// versions the platform cannot read). The dynamic security variant:
// TestDynsecCarriesPlatformCaps.
func TestShippedACLCarriesPlatformCaps(t *testing.T) {
	l := newACLLab(t, "mosquitto.conf", map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"})
	plat := l.connect("platform")
	dev := l.connect("dev-1")
	l.pub(dev, "ptt/platform/caps", "forged", true)
	l.pub(plat, "ptt/platform/caps", "caps", true)
	l.connect("dev-2", "ptt/platform/caps")
	l.pub(dev, "ptt/platform/caps", "forged again", false)
	l.expect("dev-2 ptt/platform/caps caps")
}
