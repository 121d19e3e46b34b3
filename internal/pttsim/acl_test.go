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

// The broker ACL of docs/protocol.md carries push-to-talk: a device sends
// floor requests, voice and recording reports below its own tree and reads
// its floor messages and the groups' relayed voice; only the platform
// writes floor messages and relayed voice, so a device can neither grant
// itself the floor (strict variant) nor be heard without the floor. Media
// sessions carry SRTP keys: a device asks on its own media topic and reads
// only its own media/ctl, never another device's keys.
func TestDocumentedACLCarriesPushToTalk(t *testing.T) {
	const common = "pattern read ptt/dev/%c/event\npattern read ptt/dev/%c/floor/ctl\npattern read ptt/group/+/voice/+\n" +
		"pattern read ptt/dev/%c/media/ctl\n" +
		"user platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\ntopic write ptt/dev/+/floor/ctl\ntopic write ptt/group/+/voice/+\n" +
		"topic write ptt/dev/+/media/ctl\n"
	for _, tc := range []struct {
		name, acl string
		selfGrant bool // may a device write its own floor/ctl?
	}{
		{"subtree", "pattern write ptt/dev/%c/#\n" + common, true},
		{"strict", "pattern write ptt/dev/%c/status\npattern write ptt/dev/%c/track\npattern write ptt/dev/%c/floor\n" +
			"pattern write ptt/dev/%c/voice/+\npattern write ptt/dev/%c/record\npattern write ptt/dev/%c/media\n" + common, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{ACL: tc.acl})
			// Deliveries go into a slice, not a channel: paho's callbacks
			// may still run after the test has read what it waits for.
			var mu sync.Mutex
			var got []string
			seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
			connect := func(id string, subs ...string) paho.Client {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetUsername(id))
				if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("%s: %v", id, tok.Error())
				}
				t.Cleanup(func() { c.Disconnect(50) })
				for _, s := range subs {
					c.Subscribe(s, 1, func(_ paho.Client, m paho.Message) {
						mu.Lock()
						got = append(got, id+" "+m.Topic()+" "+string(m.Payload()))
						mu.Unlock()
					}).WaitTimeout(5 * time.Second)
				}
				return c
			}
			plat := connect("platform", "ptt/dev/+/floor", "ptt/dev/+/voice/+", "ptt/dev/+/record", "ptt/dev/+/media")
			dev := connect("dev-1", "ptt/dev/dev-1/floor/ctl", "ptt/group/+/voice/+", "ptt/dev/dev-2/floor/ctl",
				"ptt/dev/dev-1/media/ctl", "ptt/dev/dev-2/media/ctl")
			pub := func(c paho.Client, topic, payload string) {
				c.Publish(topic, 1, false, payload).WaitTimeout(5 * time.Second)
			}
			pub(dev, "ptt/dev/dev-1/floor", "request")
			pub(dev, "ptt/dev/dev-1/voice/5", "voice")
			pub(dev, "ptt/dev/dev-1/record", "report")
			pub(dev, "ptt/dev/dev-1/media", "media request")
			pub(plat, "ptt/dev/dev-1/media/ctl", "keys")
			pub(plat, "ptt/dev/dev-2/media/ctl", "dev-2's keys")
			pub(dev, "ptt/group/5/voice/dev-1", "spoofed relay")
			pub(dev, "ptt/dev/dev-1/floor/ctl", "self grant")
			pub(plat, "ptt/dev/dev-1/floor/ctl", "granted")
			pub(plat, "ptt/dev/dev-2/floor/ctl", "not for dev-1")
			pub(plat, "ptt/group/5/voice/dev-1", "relayed")
			pub(plat, "ptt/dev/dev-1/floor/ctl", "marker")
			want := map[string]bool{
				"platform ptt/dev/dev-1/floor request": true, "platform ptt/dev/dev-1/voice/5 voice": true,
				"platform ptt/dev/dev-1/record report": true, "dev-1 ptt/dev/dev-1/floor/ctl granted": true,
				"dev-1 ptt/group/5/voice/dev-1 relayed": true, "dev-1 ptt/dev/dev-1/floor/ctl marker": true,
				"platform ptt/dev/dev-1/media media request": true, "dev-1 ptt/dev/dev-1/media/ctl keys": true,
			}
			missing := func() []string {
				var out []string
				for m := range want {
					if !slices.Contains(seen(), m) {
						out = append(out, m)
					}
				}
				return out
			}
			defer func() {
				if t.Failed() {
					t.Logf("missing %v; got %v", missing(), seen())
				}
			}()
			wait.For(t, 5*time.Second, "every message the ACL lets through", func() bool { return len(missing()) == 0 })
			// What the ACL wrongly let through would have come by now.
			time.Sleep(100 * time.Millisecond)
			for _, m := range seen() {
				switch m {
				case "dev-1 ptt/group/5/voice/dev-1 spoofed relay", "dev-1 ptt/dev/dev-2/floor/ctl not for dev-1",
					"dev-1 ptt/dev/dev-2/media/ctl dev-2's keys":
					t.Errorf("the ACL let through: %s", m)
				case "dev-1 ptt/dev/dev-1/floor/ctl self grant":
					if !tc.selfGrant {
						t.Errorf("the strict ACL let a device grant itself: %s", m)
					}
				}
			}
		})
	}
}
