package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func samplePoint(seq uint64) Point {
	return Point{
		Seq: seq, Created: 1731997061 + int64(seq), Latitude: 22.6688351, Longitude: 115.0702114,
		Speed: 42.34, Altitude: 23.25, Bearing: 231.4, HDOP: 1.06, Sats: 9, Mode: 3,
	}
}

func TestTrackBatchRoundTrip(t *testing.T) {
	pts := []Point{samplePoint(1), samplePoint(2), {Seq: 3, Created: 5, Latitude: -33.5, Longitude: -70.25,
		Speed: math.NaN(), Altitude: math.NaN(), Bearing: math.NaN(), HDOP: math.NaN(), Mode: 2, Trigger: TriggerHeartbeat, FixAge: 301}}
	payload := AppendTrackBatch(nil, pts)
	if !json.Valid(payload) {
		t.Fatalf("not JSON: %s", payload)
	}
	got, err := DecodeTrackBatch(payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d points", len(got))
	}
	p := got[0]
	if p.Seq != 1 || p.Created != 1731997062 || p.Latitude != 22.668835 || p.Longitude != 115.070211 ||
		p.Speed != 42.3 || p.Altitude != 23.3 && p.Altitude != 23.2 || p.Bearing != 231 || p.HDOP != 1.1 || p.Sats != 9 || p.Mode != 3 {
		t.Errorf("point 0 = %+v", p)
	}
	h := got[2]
	if !math.IsNaN(h.Speed) || !math.IsNaN(h.Altitude) || h.Trigger != TriggerHeartbeat || h.FixAge != 301 || h.Latitude != -33.5 {
		t.Errorf("heartbeat = %+v", h)
	}
}

func TestTrackRowIsCompact(t *testing.T) {
	p := samplePoint(17)
	row := string(AppendTrackRow(nil, &p))
	want := "[17,1731997078,22.668835,115.070211,42.3,23.2,231,1.1,9,3]"
	if row != want && row != "[17,1731997078,22.668835,115.070211,42.3,23.3,231,1.1,9,3]" {
		t.Errorf("row = %s, want %s", row, want)
	}
	z := Point{Seq: 1, Latitude: -0.0000001, Longitude: 0}
	if got := string(AppendTrackRow(nil, &z)); got != "[1,0,0,0,0,0,0,0,0,0]" {
		t.Errorf("zero row = %s", got)
	}
}

// The accuracy column comes last, after the three optional columns, which
// a point with an accuracy therefore carries.
func TestTrackRowAccuracy(t *testing.T) {
	p := samplePoint(17)
	p.Accuracy = 3.84
	row := string(AppendTrackRow(nil, &p))
	if want := ",9,3,0,0,0,3.8]"; !strings.HasSuffix(row, want) {
		t.Errorf("row = %s, want it to end %s", row, want)
	}
	got, err := DecodeTrackBatch(AppendTrackBatch(nil, []Point{p, samplePoint(18)}))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Accuracy != 3.8 || got[1].Accuracy != 0 {
		t.Errorf("accuracy decoded as %v and %v, want 3.8 and 0 (not known)", got[0].Accuracy, got[1].Accuracy)
	}
	for _, v := range []float64{0, math.NaN(), math.Inf(1), -1} {
		p.Accuracy = v
		if row := string(AppendTrackRow(nil, &p)); strings.Count(row, ",") != 9 {
			t.Errorf("accuracy %v: row %s carries it", v, row)
		}
	}
	// A decoder that names its columns gets null as "not known".
	pts, err := DecodeTrackBatch([]byte(`{"v":1,"fields":["seq","created","latitude","longitude","accuracy"],"points":[[1,2,3,4,null],[2,2,3,4,7.5]]}`))
	if err != nil || pts[0].Accuracy != 0 || pts[1].Accuracy != 7.5 {
		t.Errorf("named columns: %+v, %v", pts, err)
	}
}

func TestDecodeRejectsHostileBatches(t *testing.T) {
	for _, payload := range []string{
		``, `{`, `[]`, `{"v":2,"fields":[],"points":[]}`,
		`{"v":1,"fields":["seq"],"points":[[1]]}`,
		`{"v":1,"points":[[1,2,3,4]]}`,
		`{"v":1,"points":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]]}`,
		`{"v":1,"fields":["seq","created","latitude","longitude"],"points":[[1,2,3]]}`,
		`{"v":1,"fields":["seq","created","latitude","longitude"],"points":[[0,2,3,4]]}`,
		`{"v":1,"fields":["seq","created","latitude","longitude"],"points":[[1,2,91,4]]}`,
		`{"v":1,"fields":["seq","created","latitude","longitude"],"points":[["a",2,3,4]]}`,
	} {
		if _, err := DecodeTrackBatch([]byte(payload)); err == nil {
			t.Errorf("accepted %q", payload)
		}
	}
}

func TestAppendTrackBatchDoesNotAllocate(t *testing.T) {
	pts := []Point{samplePoint(1), samplePoint(2)}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendTrackBatch(buf[:0], pts) }); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
}

func FuzzDecodeTrackBatch(f *testing.F) {
	f.Add(AppendTrackBatch(nil, []Point{samplePoint(1)}))
	f.Add([]byte(`{"v":1,"fields":["seq","created","latitude","longitude"],"points":[[1,2,3,4]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := DecodeTrackBatch(b)
		if err != nil {
			return
		}
		for _, p := range pts {
			if p.Seq == 0 || math.Abs(p.Latitude) > 90 || math.Abs(p.Longitude) > 180 {
				t.Fatalf("accepted bad point %+v", p)
			}
		}
	})
}

// Bytes per point on the wire: our column batch against the obvious
// alternative, one JSON object per point with the seeds' field names.
func BenchmarkTrackBytesPerPoint(b *testing.B) {
	type objPoint struct {
		Seq          uint64  `json:"seq"`
		Created      int64   `json:"created"`
		Latitude     float64 `json:"latitude"`
		Longitude    float64 `json:"longitude"`
		Speed        float64 `json:"speed"`
		Altitude     float64 `json:"altitude"`
		Bearing      float64 `json:"bearing"`
		HDOP         float64 `json:"hdop"`
		Sats         int     `json:"sats"`
		Mode         int     `json:"mode"`
		PositionType int     `json:"positionType"`
	}
	for _, n := range []int{1, 10, 50} {
		pts := make([]Point, n)
		objs := make([]objPoint, n)
		for i := range pts {
			p := samplePoint(uint64(1000 + i))
			p.Latitude += float64(i) * 1e-4
			pts[i] = p
			objs[i] = objPoint{p.Seq, p.Created, math.Round(p.Latitude*1e6) / 1e6, math.Round(p.Longitude*1e6) / 1e6, 42.3, 23.2, 231, 1.1, 9, 3, 0}
		}
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			buf := make([]byte, 0, 8192)
			for b.Loop() {
				buf = AppendTrackBatch(buf[:0], pts)
			}
			ref, _ := json.Marshal(objs)
			// An MQTT 3.1.1 QoS 1 PUBLISH adds a fixed header (2–3 B), the
			// topic (2 B length + name) and a packet id (2 B) per message.
			topic := Topics{Prefix: "ptt", Account: "dev-0001"}.Track()
			onWire := func(payload int) float64 {
				body := 2 + len(topic) + 2 + payload
				hdr := 2
				if body > 127 {
					hdr = 3
				}
				return float64(hdr+body) / float64(n)
			}
			b.ReportMetric(float64(len(buf))/float64(n), "B/point")
			b.ReportMetric(onWire(len(buf)), "wire-B/point")
			b.ReportMetric(onWire(len(ref)), "ref-wire-B/point")
		})
	}
}
