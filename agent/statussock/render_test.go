package statussock

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A status as agent.Status marshals it, plus a section this renderer has
// never heard of (as the sync and push-to-talk parts will add).
const sample = `{"verdict":"PROBLEM — uplink-down: dial tcp: i/o timeout (for 1 min) → network, DNS, mqtt.brokers","version":"1.2.3","device":"dev-0001","name":"Patrol 1","started":"2026-11-21T10:00:00Z",
"gps":{"device":"/dev/ttyUSB0","connected":true,"since":"2026-11-21T10:00:01Z","mode":"3D","valid":true,"sats":9,
 "lat":47.285233,"lon":8.565265,"last_fix_age_s":0.4,"sentences":12000,"ignored":3000,"drops":{"checksum":2},"fixes":2000,"opens":1,"disconnects":0},
"uplink":{"connected":false,"broker":"mqtts://broker.example.com:8883","since":"0001-01-01T00:00:00Z","reconnects":3,"last_error":"dial tcp: i/o timeout"},
"tracks":{"loc_share":true,"track":1,"period_s":60,"queued":12,"last_seq":812,"last_acked_seq":800,"dropped":0,"failed":0,"points":40,"suppressed":0,"last_point":"2026-11-21T11:59:30Z"},
"sync":{"platform":"https://corp.example.com","last_sync":"2026-11-21T11:58:00Z","versions":{"member":4,"groups":17},"groups":[{"id":7,"name":"Patrol"},{"id":9,"name":"All"}],"active_group":7,"tags":["a","b"],"empty":[]},
"warnings":[{"name":"uplink-down","detail":"dial tcp: i/o timeout","since":"2026-11-21T11:59:00Z","hint":"network, DNS, mqtt.brokers"}]}`

func TestRender(t *testing.T) {
	time.Local = time.UTC
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	if err := Render(&out, []byte(sample), now); err != nil {
		t.Fatal(err)
	}
	want := `PROBLEM — uplink-down: dial tcp: i/o timeout (for 1 min) → network, DNS, mqtt.brokers

version: 1.2.3, device: dev-0001, name: Patrol 1, started: 2026-11-21 10:00:00 (2h0m0s ago)

GPS
  device: /dev/ttyUSB0
  connected: yes
  since: 2026-11-21 10:00:01 (1h59m0s ago)
  mode: 3D
  valid: yes
  sats: 9
  lat: 47.285233
  lon: 8.565265
  last fix age: 0.4 s
  sentences: 12000
  ignored: 3000
  drops:
    checksum: 2
  fixes: 2000
  opens: 1
  disconnects: 0

Uplink
  connected: no
  broker: mqtts://broker.example.com:8883
  since: never
  reconnects: 3
  last error: dial tcp: i/o timeout

Tracks
  loc share: yes
  track: 1
  period: 1m0s
  queued: 12
  last seq: 812
  last acked seq: 800
  dropped: 0
  failed: 0
  points: 40
  suppressed: 0
  last point: 2026-11-21 11:59:30 (30s ago)

Sync
  platform: https://corp.example.com
  last sync: 2026-11-21 11:58:00 (2m0s ago)
  versions:
    member: 4
    groups: 17
  groups:
    - id=7, name=Patrol
    - id=9, name=All
  active group: 7
  tags: a, b
  empty: (none)

Warnings
  ! uplink-down: dial tcp: i/o timeout (since 2026-11-21 11:59:00 (1m0s ago))
    → network, DNS, mqtt.brokers
`
	if got := out.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRenderNoWarnings(t *testing.T) {
	var out bytes.Buffer
	if err := Render(&out, []byte(`{"device":"d","gps":{"last_fix_age_s":-1},"warnings":[]}`), time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "last fix age: never") || !strings.HasSuffix(got, "Warnings\n  none\n") {
		t.Fatalf("got\n%s", got)
	}
}

func TestRenderRejects(t *testing.T) {
	for _, in := range []string{``, `[1]`, `{"a":`, `{"a":1} x`} {
		if err := Render(&bytes.Buffer{}, []byte(in), time.Now()); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"warnings":[1,{"name":"x"}],"a":[[1],{"b":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		Render(&bytes.Buffer{}, data, time.Now()) // must not panic
	})
}

// Text from the platform (group names, a revoke's cause) and from the
// network (error texts) must not drive the technician's terminal: every
// control character, C1 control and bidirectional override is shown as
// an escape, wherever it is (a key, a value, a list, a warning, the
// verdict); other scripts stay readable.
func TestRenderEscapesTerminalControls(t *testing.T) {
	const evil = "\x1b[2J\x1b]0;owned\a\u009b31m\u202e\r\x7f"
	data, err := json.Marshal(map[string]any{
		"verdict":  "OK — PTT ready (group " + evil + ")",
		"device":   evil,
		"ptt":      map[string]any{"last_cause": evil, "active_group_name": "巡逻 " + evil, evil: 1},
		"platform": map[string]any{"groups": []any{map[string]any{"id": 7, "name": evil}, evil}},
		"warnings": []any{map[string]any{"name": evil, "detail": evil, "hint": evil}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Render(&out, data, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i, r := range out.String() {
		if (r < 0x20 && r != '\n') || (r >= 0x7f && r < 0xa0) || r == '\u202e' {
			t.Fatalf("control %U at byte %d reaches the terminal:\n%q", r, i, out.String())
		}
	}
	for _, want := range []string{`last cause: \x1b[2J\x1b]0;owned\a\u009b31m\u202e\r\x7f`, "巡逻 \\x1b[2J", "OK — PTT ready (group \\x1b[2J"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
