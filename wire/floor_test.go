package wire

import (
	"strings"
	"testing"
)

func TestFloorRoundTrip(t *testing.T) {
	for _, f := range []Floor{
		{Type: FloorRequest, Group: 80000528, Req: 3, TimeMs: 1763712000000},
		{Type: FloorGranted, Group: 1, Req: 3, TalkTime: 60, Speaker: "h1"},
		{Type: FloorDeny, Group: 1, Req: 4, Cause: CauseTaken},
		{Type: FloorQueued, Group: 1, Req: 5, Position: 2},
		{Type: FloorRevoke, Group: 1, Cause: CausePreempted},
		{Type: FloorIdle, Group: 1},
		{Type: FloorTaken, Group: 1, Speaker: "h2", Burst: 9},
		{Type: FloorRelease, Group: 1, Req: 3},
	} {
		b := f.Encode()
		got, err := DecodeFloor(b)
		f.V = 1
		if err != nil || got != f {
			t.Errorf("%s: got %+v, %v", b, got, err)
		}
	}
	if got := string(Floor{Type: FloorIdle, Group: 7}.Encode()); got != `{"v":1,"type":"idle","group":7}` {
		t.Errorf("idle encodes as %s", got)
	}
}

func TestFloorRejects(t *testing.T) {
	for _, s := range []string{
		``, `[]`, `{"v":2,"type":"idle","group":1}`, `{"v":1,"type":"shout","group":1}`,
		`{"v":1,"type":"deny","group":1}`, `{"v":1,"type":"revoke","group":1}`,
		`{"v":1,"type":"idle"}`, `{"v":1,"type":"queued","group":1}`,
		`{"v":1,"type":"granted","group":1,"req":1,"talk_time":-1}`,
		// 9223372037 s overflowed time.Duration into a negative limit.
		`{"v":1,"type":"granted","group":1,"req":1,"talk_time":9223372037}`,
		`{"v":1,"type":"granted","group":1,"req":1,"talk_time":86401}`,
		`{"v":1,"type":"granted","group":1,"req":1,"talk_time":1e300}`,
		`{"v":1,"type":"queued","group":1,"req":1,"position":1048577}`,
		// Answers without the request they answer.
		`{"v":1,"type":"granted","group":1}`, `{"v":1,"type":"deny","group":1,"cause":"taken"}`,
		`{"v":1,"type":"queued","group":1,"position":1}`,
		`{"v":1,"type":"idle","group":1,"pad":"` + strings.Repeat("x", MaxFloorSize) + `"}`,
	} {
		if f, err := DecodeFloor([]byte(s)); err == nil {
			t.Errorf("%.60s: accepted as %+v", s, f)
		}
	}
}

func TestFloorTopics(t *testing.T) {
	tp := Topics{Prefix: "ptt", Account: "h1"}
	for got, want := range map[string]string{
		tp.FloorUp():                "ptt/dev/h1/floor",
		tp.FloorDown():              "ptt/dev/h1/floor/ctl",
		tp.Voice(80000528):          "ptt/dev/h1/voice/80000528",
		GroupVoice("ptt", 5, "h1"):  "ptt/group/5/voice/h1",
		FloorDownTopic("ptt", "h2"): "ptt/dev/h2/floor/ctl",
		AllFloorUp("ptt"):           "ptt/dev/+/floor",
		AllVoice("ptt"):             "ptt/dev/+/voice/+",
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
	// Everything a device publishes stays below its own tree.
	for _, topic := range []string{tp.FloorUp(), tp.Voice(1)} {
		if DeviceOf("ptt", topic) != "h1" {
			t.Errorf("%s is not below ptt/dev/h1/", topic)
		}
	}
}

func FuzzDecodeFloor(f *testing.F) {
	f.Add(Floor{Type: FloorGranted, Group: 1, Req: 1, TalkTime: 30}.Encode())
	f.Add(Floor{Type: FloorDeny, Group: 2, Req: 2, Cause: CauseMuted}.Encode())
	f.Add([]byte(`{"v":1,"type":"queued","group":3,"req":3,"position":1}`))
	f.Add([]byte(`{"v":1,"type":"granted","group":1,"req":1,"talk_time":9223372037}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := DecodeFloor(b)
		if err != nil {
			return
		}
		if fl.TalkTime < 0 || fl.TalkTime > MaxTalkTime || fl.Position < 0 || fl.Position > MaxPosition {
			t.Fatalf("accepted out of range: %+v", fl)
		}
		if (fl.Type == FloorGranted || fl.Type == FloorDeny || fl.Type == FloorQueued) && fl.Req == 0 {
			t.Fatalf("accepted an answer without req: %+v", fl)
		}
		again, err := DecodeFloor(fl.Encode())
		if err != nil || again != fl {
			t.Fatalf("%+v re-decoded as %+v, %v", fl, again, err)
		}
	})
}
