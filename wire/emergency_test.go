package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestEmergencyRoundTrip(t *testing.T) {
	speed, alt := 4.2, 31.5
	for _, e := range []Emergency{
		{Type: EmergencyAlert, ID: "1763712000123-9f3a", Group: 80000528, TimeMs: 1763712000123,
			Fix: &EmergencyFix{Latitude: 22.511515, Longitude: 113.155122, Speed: &speed, Altitude: &alt, Sats: 9, Mode: 3, Created: 1763711990, Age: 10}},
		{Type: EmergencyAlert, ID: "a", TimeMs: 1}, // no group, never a fix
		{Type: EmergencyCancel, ID: "a", TimeMs: 2, Fix: &EmergencyFix{Mode: 2, Created: 1}},
		{Type: EmergencyAck, ID: "a", Of: EmergencyCancel, TimeMs: 3},
	} {
		b := e.Encode()
		got, err := DecodeEmergency(b)
		e.V = 1
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Errorf("%s: got %+v, %v", b, got, err)
		}
	}
	want := `{"v":1,"type":"alert","id":"x","group":7,"fix":{"latitude":1.5,"longitude":2.5,"mode":3,"created":9,"age":0},"ts":5}`
	if got := string(Emergency{Type: EmergencyAlert, ID: "x", Group: 7, Fix: &EmergencyFix{Latitude: 1.5, Longitude: 2.5, Mode: 3, Created: 9}, TimeMs: 5}.Encode()); got != want {
		t.Errorf("encodes as\n%s\nwant\n%s", got, want)
	}
}

func TestEmergencyRejects(t *testing.T) {
	for _, s := range []string{
		``, `[]`, `null`,
		`{"v":2,"type":"alert","id":"a","ts":1}`,
		`{"v":1,"type":"help","id":"a","ts":1}`,
		`{"v":1,"type":"alert","ts":1}`,                     // no id
		`{"v":1,"type":"alert","id":"../../etc","ts":1}`,    // names a file
		`{"v":1,"type":"alert","id":"..","ts":1}`,           //
		`{"v":1,"type":"alert","id":"a b","ts":1}`,          //
		`{"v":1,"type":"alert","id":"é","ts":1}`,            //
		`{"v":1,"type":"alert","id":"a"}`,                   // no time
		`{"v":1,"type":"cancel","id":"a","ts":-5}`,          //
		`{"v":1,"type":"ack","id":"a","ts":1}`,              // ack of nothing
		`{"v":1,"type":"ack","id":"a","of":"ack","ts":1}`,   //
		`{"v":1,"type":"alert","id":"a","group":-1,"ts":1}`, //
		`{"v":1,"type":"alert","id":"a","ts":1,"fix":{"latitude":91,"longitude":0}}`,
		`{"v":1,"type":"alert","id":"a","ts":1,"fix":{"latitude":0,"longitude":-180.5}}`,
		`{"v":1,"type":"alert","id":"a","ts":1,"fix":{"latitude":0,"longitude":0,"age":-1}}`,
		`{"v":1,"type":"alert","id":"a","ts":1,"fix":{"latitude":0,"longitude":0,"speed":"fast"}}`,
		`{"v":1,"type":"alert","id":"a","ts":1,"fix":{"latitude":1e400,"longitude":0}}`,
		`{"v":1,"type":"alert","id":"` + strings.Repeat("a", MaxEmergencyID+1) + `","ts":1}`,
		`{"v":1,"type":"alert","id":"a","ts":1,"pad":"` + strings.Repeat("x", MaxEmergencySize) + `"}`,
	} {
		if e, err := DecodeEmergency([]byte(s)); err == nil {
			t.Errorf("%.70s: accepted as %+v", s, e)
		}
	}
}

func TestEmergencyTopics(t *testing.T) {
	tp := Topics{Prefix: "ptt", Account: "h1"}
	for got, want := range map[string]string{
		tp.Emergency():                  "ptt/dev/h1/emergency",
		tp.EmergencyCtl():               "ptt/dev/h1/emergency/ctl",
		AllEmergency("ptt"):             "ptt/dev/+/emergency",
		EmergencyCtlTopic("ptt", "h2"):  "ptt/dev/h2/emergency/ctl",
		DeviceOf("ptt", tp.Emergency()): "h1",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

// The floor's emergency flag travels on grants and taken messages.
func TestFloorEmergencyFlag(t *testing.T) {
	f := Floor{Type: FloorTaken, Group: 3, Speaker: "c", Emergency: true}
	got, err := DecodeFloor(f.Encode())
	if err != nil || !got.Emergency || !strings.Contains(string(f.Encode()), `"emergency":true`) {
		t.Errorf("%s → %+v %v", f.Encode(), got, err)
	}
	if strings.Contains(string(Floor{Type: FloorIdle, Group: 3}.Encode()), "emergency") {
		t.Error("emergency is not omitted when false")
	}
}

// Emergency messages come from devices (to the platform) and from the
// platform (to devices): whatever decodes, encodes and decodes again to
// the same message, and never names a file outside its directory.
func FuzzDecodeEmergency(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"alert","id":"1763712000123-9f3a","group":80000528,"ts":1763712000123,"fix":{"latitude":22.5,"longitude":113.1,"speed":4.2,"mode":3,"created":1763711990,"age":10}}`))
	f.Add([]byte(`{"v":1,"type":"ack","id":"a","of":"cancel","ts":3}`))
	f.Add([]byte(`{"v":1,"type":"cancel","id":"..","ts":3}`))
	f.Add([]byte(`{"v":1,"type":"alert","id":"a","ts":1,"fix":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEmergency(b)
		if err != nil {
			return
		}
		if strings.ContainsAny(e.ID, "/\\\x00") || e.ID == "." || e.ID == ".." {
			t.Fatalf("accepted id %q", e.ID)
		}
		again, err := DecodeEmergency(e.Encode())
		if err != nil || !reflect.DeepEqual(again, e) {
			j, _ := json.Marshal(e)
			t.Fatalf("%s became %+v (%v)", j, again, err)
		}
	})
}
