package uplink_test

import (
	"testing"

	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/wire"
)

// tracks.encoding auto sends what the platform last said it reads, JSON
// until it said anything; what the broker holds may be anything, and a
// message that does not decode changes nothing.
func TestAutoEncodingFollowsThePlatform(t *testing.T) {
	var e uplink.AutoEncoding
	pts := []wire.Point{{Seq: 7, Created: 1764547200, Latitude: 48.1, Longitude: 11.6}}
	version := func() int {
		b := e.Encode(nil, pts)
		got, err := wire.DecodeTrackBatch(b)
		if err != nil || len(got) != 1 || got[0].Seq != 7 {
			t.Fatalf("batch %q does not decode: %v %+v", b, err, got)
		}
		if b[0] == '{' {
			return 1
		}
		return 2
	}
	const topic = "ptt/platform/caps"
	for _, step := range []struct {
		payload string
		want    int
	}{
		{"", 1}, // nothing said yet (or cleared)
		{`{"v":1,"track_versions":[1,2]}`, 2},
		{`{"v":1,"track_versions":[1,2`, 2}, // garbage: the last good word stands
		{`{"v":9,"track_versions":[1]}`, 2}, // a version not known
		{string(make([]byte, 2048)), 2},     // too large
		{`{"v":1,"track_versions":[1]}`, 1}, // the platform no longer reads 2
		{`{"v":1,"track_versions":[2]}`, 2},
		{"", 1}, // withdrawn
	} {
		e.OnCaps(topic, []byte(step.payload))
		if v := version(); v != step.want {
			t.Errorf("after %.40q: version %d, want %d", step.payload, v, step.want)
		}
	}
}
