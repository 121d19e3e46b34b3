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

// The shipped broker carries emergency alerts: a device publishes its
// own and reads its own acknowledgements; it can neither acknowledge its
// own alert (which would drop it from its disk unread), nor raise one as
// another device, nor read another's acknowledgements; the platform
// reads every alert and acknowledges. Both shipped variants.
func TestShippedACLCarriesEmergencies(t *testing.T) {
	users := map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"}
	for _, conf := range []string{"mosquitto.conf"} {
		t.Run(conf, func(t *testing.T) {
			b, ca := mqtttest.Deployed(t, conf, mqtttest.Options{Passwords: users})
			var mu sync.Mutex
			var got []string
			seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
			connect := func(user string, subs ...string) paho.Client {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URLAt(0)).SetClientID(user).SetUsername(user).
					SetPassword(users[user]).SetTLSConfig(ca.TLS(t, "")).SetAutoReconnect(false))
				if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("%s: %v", user, tok.Error())
				}
				t.Cleanup(func() { c.Disconnect(50) })
				for _, s := range subs {
					c.Subscribe(s, 1, func(_ paho.Client, m paho.Message) {
						mu.Lock()
						got = append(got, user+" "+m.Topic()+" "+string(m.Payload()))
						mu.Unlock()
					}).WaitTimeout(5 * time.Second)
				}
				return c
			}
			plat := connect("platform", "ptt/dev/+/emergency")
			connect("dev-2", "ptt/dev/dev-2/emergency/ctl")
			dev := connect("dev-1", "ptt/dev/dev-1/emergency/ctl", "ptt/dev/dev-2/emergency/ctl", "ptt/dev/+/emergency")
			pub := func(c paho.Client, topic, payload string) {
				c.Publish(topic, 1, false, payload).WaitTimeout(5 * time.Second)
			}
			pub(dev, "ptt/dev/dev-1/emergency", "alert")
			pub(dev, "ptt/dev/dev-2/emergency", "alert as dev-2")
			pub(dev, "ptt/dev/dev-1/emergency/ctl", "self ack")
			pub(plat, "ptt/dev/dev-1/emergency/ctl", "ack")
			pub(plat, "ptt/dev/dev-2/emergency/ctl", "dev-2's ack")
			pub(plat, "ptt/dev/dev-1/emergency/ctl", "marker")
			want := []string{"platform ptt/dev/dev-1/emergency alert", "dev-1 ptt/dev/dev-1/emergency/ctl ack",
				"dev-2 ptt/dev/dev-2/emergency/ctl dev-2's ack", "dev-1 ptt/dev/dev-1/emergency/ctl marker"}
			wait.For(t, 5*time.Second, "every message the ACL lets through", func() bool {
				for _, m := range want {
					if !slices.Contains(seen(), m) {
						return false
					}
				}
				return true
			})
			time.Sleep(100 * time.Millisecond)
			for _, m := range seen() {
				if !slices.Contains(want, m) {
					t.Errorf("the ACL let through: %s", m)
				}
			}
		})
	}
}
