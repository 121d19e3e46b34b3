package platformsync_test

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
)

// The broker ACLs of docs/protocol.md let the platform's account publish
// a device's events and the device read them, and no device read another's.
func TestDocumentedACLCarriesEvents(t *testing.T) {
	for _, tc := range []struct {
		name, acl string
		selfSpoof bool // may the device publish an event to itself?
	}{
		{"subtree", "pattern write ptt/dev/%c/#\npattern read ptt/dev/%c/event\nuser platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\n", true},
		{"strict", "pattern write ptt/dev/%c/status\npattern write ptt/dev/%c/track\npattern read ptt/dev/%c/event\nuser platform\ntopic read ptt/#\ntopic write ptt/dev/+/event\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mqtttest.Start(t, mqtttest.Options{ACL: tc.acl})
			connect := func(id, user string) paho.Client {
				c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetUsername(user))
				if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("%s: %v", id, tok.Error())
				}
				t.Cleanup(func() { c.Disconnect(50) })
				return c
			}
			got := map[string]chan string{"dev-1": make(chan string, 4), "dev-2": make(chan string, 4)}
			for id, ch := range got {
				c := connect(id, id)
				// dev-2 tries to listen to dev-1's events too.
				for _, topic := range []string{"ptt/dev/" + id + "/event", "ptt/dev/dev-1/event"} {
					c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { ch <- id + " got " + m.Topic() + " " + string(m.Payload()) }).WaitTimeout(5 * time.Second)
				}
			}
			plat := connect("pttsim", "platform")
			plat.Publish("ptt/dev/dev-1/event", 1, false, "from-platform").WaitTimeout(5 * time.Second)
			select {
			case m := <-got["dev-1"]:
				if m != "dev-1 got ptt/dev/dev-1/event from-platform" {
					t.Errorf("dev-1: %s", m)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the device did not get the platform's event")
			}
			// A device spoofing an event to itself.
			self := connect("dev-1b", "dev-1b")
			var spoofed = make(chan bool, 1)
			self.Subscribe("ptt/dev/dev-1b/event", 1, func(paho.Client, paho.Message) { spoofed <- true }).WaitTimeout(5 * time.Second)
			self.Publish("ptt/dev/dev-1b/event", 1, false, "spoof").WaitTimeout(5 * time.Second)
			// A marker from the platform, after the spoof, bounds the wait.
			plat.Publish("ptt/dev/dev-2/event", 1, false, "marker").WaitTimeout(5 * time.Second)
			select {
			case m := <-got["dev-2"]:
				if m != "dev-2 got ptt/dev/dev-2/event marker" {
					t.Errorf("dev-2 read something not its own: %s", m)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no marker")
			}
			time.Sleep(100 * time.Millisecond) // the spoof, if delivered, was published before the marker
			select {
			case <-spoofed:
				if !tc.selfSpoof {
					t.Error("the strict ACL let a device publish an event to itself")
				}
			default:
				if tc.selfSpoof {
					t.Log("the subtree ACL refused the self-published event")
				}
			}
			select {
			case m := <-got["dev-2"]:
				t.Errorf("dev-2 read another device's event: %s", m)
			default:
			}
		})
	}
}
