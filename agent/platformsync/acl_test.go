package platformsync_test

import (
	"crypto/tls"
	"fmt"
	"slices"
	gosync "sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// oldACL is what docs/protocol.md documented before issue 13: identity
// from the client id (%c), which the device chooses.
const oldACL = "pattern write ptt/dev/%c/#\npattern read ptt/dev/%c/event\n" +
	"user platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\n"

var aclUsers = map[string]string{"platform": "platform-secret", "dev-a": "a-secret", "dev-b": "b-secret"}

// Platform events say what a handset's groups are, so only the platform
// may write them and only their device read them. Device A logs in with
// its own password and B's client id: under the old ACL it read B's events
// and published a retained corp-group-delete to B, which made B leave its
// group (issue 13, item 1). The broker as deploy/mosquitto ships it takes
// identity from the login: B gets the platform's events and nothing from
// A, retained or not; A reads none of B's events and cannot even publish
// an event to itself. The old ACL, attacked the same way, shows that the
// test sees the attack when it succeeds.
func TestDocumentedACLCarriesEvents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   func(t *testing.T) (url string, tc *tls.Config)
		blocked bool
	}{
		{"old %c ACL", func(t *testing.T) (string, *tls.Config) {
			b := mqtttest.Start(t, mqtttest.Options{ACL: oldACL, Passwords: aclUsers})
			return b.URL(), nil
		}, false},
		{"deploy/mosquitto", func(t *testing.T) (string, *tls.Config) {
			b, ca := mqtttest.Deployed(t, "mosquitto.conf", mqtttest.Options{Passwords: aclUsers})
			return b.URLAt(0), ca.TLS(t, "")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, tlsc := tc.start(t)
			var mu gosync.Mutex
			var got []string
			seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
			connect := func(user, clientID string, subs ...string) paho.Client {
				o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword(aclUsers[user]).
					SetAutoReconnect(false).SetTLSConfig(tlsc)
				c := paho.NewClient(o)
				if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("%s: %v", user, tok.Error())
				}
				t.Cleanup(func() { c.Disconnect(50) })
				for _, s := range subs {
					c.Subscribe(s, 1, func(_ paho.Client, m paho.Message) {
						mu.Lock()
						defer mu.Unlock()
						got = append(got, fmt.Sprintf("%s got %s retained=%v %s", user, m.Topic(), m.Retained(), m.Payload()))
					}).WaitTimeout(5 * time.Second)
				}
				return c
			}
			plat := connect("platform", "platform")
			connect("dev-b", "dev-b", "ptt/dev/dev-b/event")
			// A, with B's client id, listens to B's events and its own.
			devA := connect("dev-a", "dev-b", "ptt/dev/dev-b/event", "ptt/dev/dev-a/event")
			forged := wire.Event{MsgID: 9_000_000_000, MsgType: wire.EventGroupDelete, Timestamp: time.Now().Unix(),
				Content: []byte(`{"group":{"id":80000528}}`)}.Encode()
			devA.Publish("ptt/dev/dev-b/event", 1, true, forged).WaitTimeout(5 * time.Second)
			devA.Publish("ptt/dev/dev-a/event", 1, false, "self-made").WaitTimeout(5 * time.Second)
			plat.Publish("ptt/dev/dev-b/event", 1, false, "for B").WaitTimeout(5 * time.Second)

			has := func(s string) bool { return slices.Contains(seen(), s) }
			reader := "dev-b" // who gets the platform's event for B
			if !tc.blocked {
				reader = "dev-a" // A took B's session
			}
			waitFor(t, 5*time.Second, "the platform's event for B", func() bool {
				return has(reader + " got ptt/dev/dev-b/event retained=false for B")
			})
			// B logs in again (under the old ACL, taking its session back):
			// its new subscription shows what the broker kept as retained.
			connect("dev-b", "dev-b", "ptt/dev/dev-b/event")
			plat.Publish("ptt/dev/dev-b/event", 1, false, "marker").WaitTimeout(5 * time.Second)
			waitFor(t, 5*time.Second, "the marker", func() bool { return has("dev-b got ptt/dev/dev-b/event retained=false marker") })
			time.Sleep(100 * time.Millisecond) // A's deliveries, if any, were sent before the marker
			var leaks []string
			for _, m := range seen() {
				switch m {
				case "dev-a got ptt/dev/dev-b/event retained=false for B", "dev-a got ptt/dev/dev-a/event retained=false self-made",
					"dev-b got ptt/dev/dev-b/event retained=false " + string(forged), "dev-b got ptt/dev/dev-b/event retained=true " + string(forged):
					leaks = append(leaks, m)
				}
			}
			if tc.blocked && len(leaks) > 0 {
				t.Errorf("the broker let through:\n%v", leaks)
			}
			if !tc.blocked && !slices.Contains(leaks, "dev-a got ptt/dev/dev-b/event retained=false for B") {
				t.Errorf("the attack on the old ACL did not work (the test cannot see it): %v", seen())
			}
			if !tc.blocked && !slices.Contains(leaks, "dev-b got ptt/dev/dev-b/event retained=true "+string(forged)) {
				t.Errorf("the old ACL kept no forged retained event (the test cannot see it): %v", seen())
			}
		})
	}
}
