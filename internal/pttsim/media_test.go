package pttsim_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/wire"
)

// Media sessions over MQTT: a known device gets a fresh session on every
// request (new SSRC, new keys, the relay's public address); an account the
// platform does not know is refused; garbage is counted and not answered.
func TestMediaSessionRequests(t *testing.T) {
	addr := freeAddr(t)
	s := simtest.Start(t, pttsim.Options{EmbedBroker: addr, MediaAddr: "127.0.0.1:0", MediaPublic: "media.example.net:5004",
		MediaTTL: 10 * time.Minute})
	s.AddMember(pttsim.MemberSpec{Num: "d1", Password: "pw", Type: pttsim.TypeDevice})
	cli := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("d1"))
	if tok := cli.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cli.Disconnect(50)
	answers := make(chan wire.MediaSession, 8)
	for _, acct := range []string{"d1", "nobody"} {
		tok := cli.Subscribe(wire.MediaCtlTopic("ptt", acct), 1, func(_ paho.Client, m paho.Message) {
			if m.Retained() {
				t.Errorf("a media answer was retained: %s", m.Payload())
			}
			a, err := wire.DecodeMediaSession(m.Payload())
			if err != nil {
				t.Errorf("answer %s: %v", m.Payload(), err)
			}
			answers <- a
		})
		tok.WaitTimeout(5 * time.Second)
	}
	ask := func(acct, id string) wire.MediaSession {
		t.Helper()
		cli.Publish(wire.Topics{Prefix: "ptt", Account: acct}.Media(), 1, false, wire.MediaRequest{ID: id}.Encode())
		select {
		case a := <-answers:
			if a.ID != id {
				t.Fatalf("answer to %s: %+v", id, a)
			}
			return a
		case <-time.After(5 * time.Second):
			t.Fatalf("no answer to %s", id)
		}
		return wire.MediaSession{}
	}
	a1, a2 := ask("d1", "request-one"), ask("d1", "request-two")
	if a1.Error != "" || a1.Addr != "media.example.net:5004" || a1.TTL != 600 || a1.Profile != wire.MediaProfile {
		t.Errorf("session %+v", a1)
	}
	if a1.SSRC == a2.SSRC || string(a1.Up.Key) == string(a2.Up.Key) || string(a1.Up.Key) == string(a1.Down.Key) {
		t.Error("sessions share an SSRC or a key")
	}
	if a := ask("nobody", "request-three"); a.Error != "refused" || a.SSRC != 0 || a.Up.Key != nil {
		t.Errorf("unknown device: %+v", a)
	}
	cli.Publish("ptt/dev/d1/media", 1, false, []byte(`{"v":1,"id":"x"}`)).WaitTimeout(5 * time.Second)
	wait.For(t, 5*time.Second, "the bad request counted", func() bool { return s.MediaStats().BadRequests == 1 })
	if st := s.MediaStats(); st.Sessions != 2 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
	select {
	case a := <-answers:
		t.Errorf("a bad request was answered: %+v", a)
	default:
	}
}
