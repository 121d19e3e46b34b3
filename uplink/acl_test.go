package uplink_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/wire"
)

// login is how one party reaches the broker.
type login struct {
	url, user, password string
	tls                 *tls.Config
}

func (l login) paho(clientID string) *paho.ClientOptions {
	o := paho.NewClientOptions().AddBroker(l.url).SetClientID(clientID).SetUsername(l.user).SetPassword(l.password).
		SetAutoReconnect(false).SetConnectTimeout(3 * time.Second)
	if l.tls != nil {
		o.SetTLSConfig(l.tls)
	}
	return o
}

// oldACL is what docs/protocol.md documented before issue 13: identity
// from the client id (%c), which the device chooses.
const oldACL = "pattern write ptt/dev/%c/#\npattern read ptt/dev/%c/event\npattern read ptt/dev/%c/floor/ctl\n" +
	"pattern read ptt/dev/%c/media/ctl\npattern read ptt/group/+/voice/+\n" +
	"user platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\ntopic write ptt/dev/+/floor/ctl\n" +
	"topic write ptt/dev/+/media/ctl\ntopic write ptt/group/+/voice/+\n"

var aclUsers = map[string]string{"platform": "platform-secret", "dev-a": "a-secret", "dev-b": "b-secret"}

// Device A logs in with its own credentials (a password, or its client
// certificate) and device B's client id, then publishes a track point
// seq 999999 as B. Under the old ACL the broker took A for B: it kicked B
// off and passed the forged point on, after which the platform dropped B's
// real points as duplicates (issue 13, item 1). The broker as
// deploy/mosquitto ships it takes identity from the login: A stays A, B
// stays connected, the forged point goes nowhere, and both devices' own
// points arrive. The old ACL, attacked the same way, shows that the test
// sees the attack when it succeeds.
func TestDocumentedACLConfinesDevices(t *testing.T) {
	for _, tc := range []struct {
		name    string
		start   func(t *testing.T) (platform, a, b login)
		blocked bool
	}{
		{"old %c ACL", func(t *testing.T) (login, login, login) {
			br := mqtttest.Start(t, mqtttest.Options{ACL: oldACL, Passwords: aclUsers})
			l := func(u string) login { return login{url: br.URL(), user: u, password: aclUsers[u]} }
			return l("platform"), l("dev-a"), l("dev-b")
		}, false},
		{"deploy/mosquitto passwords", func(t *testing.T) (login, login, login) {
			br, ca := mqtttest.Deployed(t, "mosquitto.conf", mqtttest.Options{Passwords: aclUsers})
			l := func(u string) login {
				return login{url: br.URLAt(0), user: u, password: aclUsers[u], tls: ca.TLS(t, "")}
			}
			return l("platform"), l("dev-a"), l("dev-b")
		}, true},
		{"deploy/mosquitto client certificates", func(t *testing.T) (login, login, login) {
			br, ca := mqtttest.Deployed(t, "mosquitto.conf", mqtttest.Options{Passwords: aclUsers})
			// No username or password: the certificate is the login.
			cert := func(u string) login { return login{url: br.URLAt(1), tls: ca.TLS(t, u)} }
			return login{url: br.URLAt(0), user: "platform", password: aclUsers["platform"], tls: ca.TLS(t, "")},
				cert("dev-a"), cert("dev-b")
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			platform, a, b := tc.start(t)

			// The platform's collector: every point, by device topic.
			var mu sync.Mutex
			var got []string
			seen := func(s string) func() bool {
				return func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(got, s) }
			}
			plat := paho.NewClient(platform.paho("platform"))
			if tok := plat.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("platform: %v", tok.Error())
			}
			t.Cleanup(func() { plat.Disconnect(50) })
			plat.Subscribe(wire.AllTracks("ptt"), 1, func(_ paho.Client, m paho.Message) {
				pts, err := wire.DecodeTrackBatch(m.Payload())
				mu.Lock()
				defer mu.Unlock()
				for _, p := range pts {
					got = append(got, fmt.Sprintf("%s %d", wire.DeviceOf("ptt", m.Topic()), p.Seq))
				}
				if err != nil {
					got = append(got, "bad batch on "+m.Topic())
				}
			}).WaitTimeout(5 * time.Second)

			// B is the agent's own connection, presence and will included.
			topicsB := wire.Topics{Prefix: "ptt", Account: "dev-b"}
			devB := mqtt.New(mqtt.Options{Brokers: []string{b.url}, ClientID: "dev-b", Username: b.user, Password: b.password,
				TLS: b.tls, KeepAlive: 5 * time.Second, ConnectTimeout: 3 * time.Second,
				// B's way back after a kick is not under test; a slow one
				// keeps it from kicking A back before A has published.
				ReconnectMin: 3 * time.Second, ReconnectMax: 3 * time.Second,
				StatusTopic: topicsB.Status(), Online: func() []byte { return wire.Presence{State: "online"}.Encode() },
				OfflineWill: wire.Presence{State: "offline"}.Encode(), Logger: quietLogger()})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go devB.Run(ctx)
			wait.For(t, 5*time.Second, "B to connect", func() bool { up, _ := devB.State(); return up })

			// A: its own login, B's client id.
			devA := paho.NewClient(a.paho("dev-b"))
			if tok := devA.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("A could not log in with its own credentials: %v", tok.Error())
			}
			t.Cleanup(func() { devA.Disconnect(50) })
			forged := wire.AppendTrackBatch(nil, []wire.Point{{Seq: 999999, Latitude: 1, Longitude: 1}})
			devA.Publish(topicsB.Track(), 1, false, forged).WaitTimeout(5 * time.Second)
			own := wire.AppendTrackBatch(nil, []wire.Point{{Seq: 1, Latitude: 1, Longitude: 1}})
			devA.Publish("ptt/dev/dev-a/track", 1, false, own).WaitTimeout(5 * time.Second)

			if !tc.blocked {
				wait.For(t, 5*time.Second, "the forged point to reach the platform", seen("dev-b 999999"))
				wait.For(t, 5*time.Second, "B to be kicked off", func() bool { return devB.Stats().Reconnects > 0 || !devB.Stats().Connected })
				return
			}
			wait.For(t, 5*time.Second, "A's own point", seen("dev-a 1"))
			real := wire.AppendTrackBatch(nil, []wire.Point{{Seq: 7, Latitude: 1, Longitude: 1}})
			if tok := devB.Publish(topicsB.Track(), 1, false, real); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("B's own point: %v", tok.Error())
			}
			wait.For(t, 5*time.Second, "B's own point", seen("dev-b 7"))
			// The forged point, published before both, would have come by now.
			if seen("dev-b 999999")() {
				t.Error("A published a track point as B")
			}
			if st := devB.Stats(); st.Connects != 1 || !st.Connected {
				t.Errorf("B lost its connection to A's login: %+v", st)
			}
		})
	}
}
