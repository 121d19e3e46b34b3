package wire

import (
	"fmt"
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// drive is n points of a handset moving at 40 km/h, one every 10 s.
func drive(n int) []Point {
	pts := make([]Point, n)
	for i := range pts {
		p := samplePoint(uint64(1000 + i))
		p.Created = 1731997061 + int64(10*i)
		p.Latitude += float64(i) * 0.0009
		p.Longitude += float64(i) * 0.0003
		p.Altitude += float64(i%3) * 0.4
		p.Bearing = 231 + float64(i%5)
		pts[i] = p
	}
	return pts
}

// parked is n points of a handset standing still, one every 60 s.
func parked(n int) []Point {
	pts := make([]Point, n)
	for i := range pts {
		p := samplePoint(uint64(1000 + i))
		p.Created = 1731997061 + int64(60*i)
		p.Latitude += float64(i%3) * 0.000012
		p.Speed, p.Bearing = 0.1, math.NaN()
		pts[i] = p
	}
	return pts
}

func TestTrackColumnsAreTrackFields(t *testing.T) {
	if len(trackColumns) != len(TrackFields) {
		t.Fatalf("version 2 has %d columns, TrackFields %d: a field added to the point needs its column in trackColumns", len(trackColumns), len(TrackFields))
	}
	for i, c := range trackColumns {
		if c.name != TrackFields[i] {
			t.Errorf("column %d is %q in version 2, %q in TrackFields", i, c.name, TrackFields[i])
		}
	}
}

// Version 2 decodes to what version 1 decodes to: the same points at the
// same resolution.
func TestTrackBatchCBORMatchesJSON(t *testing.T) {
	nan := math.NaN()
	batches := [][]Point{
		drive(1), drive(10), parked(10),
		{samplePoint(1), {Seq: 2, Created: 5, Latitude: -33.5, Longitude: -70.25, Speed: nan, Altitude: nan, Bearing: nan,
			HDOP: nan, Mode: 2, Trigger: TriggerHeartbeat, FixAge: 301}, {Seq: 9, Created: 4, Latitude: 89.999999,
			Longitude: -179.999999, Speed: 0, Altitude: -12.3, Bearing: 359.6, HDOP: 0.55, Sats: 40, Mode: 3, PositionType: PositionCell}},
	}
	for i, pts := range batches {
		v1, err := DecodeTrackBatch(AppendTrackBatch(nil, pts))
		if err != nil {
			t.Fatal(err)
		}
		payload := AppendTrackBatchCBOR(nil, pts)
		if payload[0]>>5 != 4 {
			t.Fatalf("batch %d does not begin with a CBOR array: % x", i, payload[:1])
		}
		v2, err := DecodeTrackBatch(payload)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		if len(v2) != len(v1) {
			t.Fatalf("batch %d: %d points, version 1 %d", i, len(v2), len(v1))
		}
		for j := range v1 {
			if !samePoint(v1[j], v2[j]) {
				t.Errorf("batch %d point %d:\nv1 %+v\nv2 %+v", i, j, v1[j], v2[j])
			}
		}
	}
}

// samePoint compares decoded points: NaN equals NaN, and floats within
// half of the last digit either version keeps (version 1 rounds decimals,
// version 2 integers, which differ at exact halves).
func samePoint(a, b Point) bool {
	near := func(x, y, res float64) bool {
		return math.IsNaN(x) && math.IsNaN(y) || math.Abs(x-y) <= res*1.0001
	}
	return a.Seq == b.Seq && a.Created == b.Created && near(a.Latitude, b.Latitude, 1e-6) && near(a.Longitude, b.Longitude, 1e-6) &&
		near(a.Speed, b.Speed, 0.1) && near(a.Altitude, b.Altitude, 0.1) && near(a.Bearing, b.Bearing, 1) && near(a.HDOP, b.HDOP, 0.1) &&
		a.Sats == b.Sats && a.Mode == b.Mode && a.PositionType == b.PositionType && a.Trigger == b.Trigger && a.FixAge == b.FixAge
}

// The hand-written encoder writes what the library writes for the same
// values (its preferred serialization: integers in their shortest form).
func TestTrackBatchCBORIsCanonical(t *testing.T) {
	pts := []Point{samplePoint(1), samplePoint(300), {Seq: 70000, Created: 1 << 33, Latitude: -1, Longitude: 2,
		Speed: math.NaN(), Altitude: math.NaN(), Bearing: math.NaN(), HDOP: math.NaN(), Mode: 2, Trigger: TriggerCorner}}
	want := []any{2}
	var prev [16]int64
	var known [16]bool
	for i := range pts {
		n := len(trackColumns)
		for n > trackRequired && trackColumns[n-1].get(&pts[i]) == 0 {
			n--
		}
		row := []any{}
		for c, col := range trackColumns[:n] {
			v, ok := scaled(col.get(&pts[i]), col.scale)
			switch {
			case !ok:
				row = append(row, nil)
				continue
			case col.delta && known[c]:
				row = append(row, v-prev[c])
			default:
				row = append(row, v)
			}
			prev[c], known[c] = v, true
		}
		want = append(want, row)
	}
	ref, err := cbor.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendTrackBatchCBOR(nil, pts); string(got) != string(ref) {
		t.Errorf("encoded\n% x\nthe library\n% x", got, ref)
	}
}

func TestDecodeRejectsHostileCBORBatches(t *testing.T) {
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	row := []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	deep := []any{2}
	for range 10 {
		deep = []any{deep}
	}
	for name, payload := range map[string][]byte{
		"empty array":       enc([]any{}),
		"version 3":         enc([]any{3, row}),
		"version as text":   enc([]any{"2", row}),
		"short row":         enc([]any{2, []any{1, 2, 3}}),
		"long row":          enc([]any{2, append(append([]any{}, row...), 1, 2, 3, 4, 5)}),
		"seq null":          enc([]any{2, []any{nil, 2, 3, 4, 5, 6, 7, 8, 9, 10}}),
		"seq 0":             enc([]any{2, []any{0, 2, 3, 4, 5, 6, 7, 8, 9, 10}}),
		"latitude 91°":      enc([]any{2, []any{1, 2, 91_000_001, 4, 5, 6, 7, 8, 9, 10}}),
		"latitude null":     enc([]any{2, []any{1, 2, nil, 4, 5, 6, 7, 8, 9, 10}}),
		"text in a row":     enc([]any{2, []any{1, 2, 3, "x", 5, 6, 7, 8, 9, 10}}),
		"nested too deep":   enc(deep),
		"truncated":         AppendTrackBatchCBOR(nil, drive(3))[:20],
		"huge array header": {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"map, not array":    enc(map[string]int{"v": 2}),
	} {
		if _, err := DecodeTrackBatch(payload); err == nil {
			t.Errorf("%s: accepted % x", name, payload)
		}
	}
}

func TestAppendTrackBatchCBORDoesNotAllocate(t *testing.T) {
	pts := drive(10)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendTrackBatchCBOR(buf[:0], pts) }); n != 0 {
		t.Errorf("%v allocations per batch", n)
	}
}

func FuzzDecodeTrackBatchCBOR(f *testing.F) {
	f.Add(AppendTrackBatchCBOR(nil, drive(3)))
	f.Add(AppendTrackBatchCBOR(nil, parked(2)))
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

// Bytes per point of version 2 against version 1, per MQTT message and
// on the link: the TLS record (5 B header, 16 B tag, 1 B type) of the
// PUBLISH, the PUBACK's own record, and the three TCP/IP headers of 52 B
// (PUBLISH, PUBACK, the handset's ACK) that internal/linkmeter counts for
// every message.
func BenchmarkTrackBytesCBOR(b *testing.B) {
	topic := Topics{Prefix: "ptt", Account: "dev-0001"}.Track()
	publish := func(payload int) int {
		body := 2 + len(topic) + 2 + payload
		hdr := 2
		if body > 127 {
			hdr = 3
		}
		return hdr + body
	}
	const link = 22 + 3*52 + 22 + 4 // TLS record, TCP/IP ×3, the PUBACK's record and packet
	for _, c := range []struct {
		name string
		pts  []Point
	}{{"moving/batch=1", drive(1)}, {"moving/batch=2", drive(2)}, {"moving/batch=10", drive(10)},
		{"parked/batch=5", parked(5)}, {"parked/batch=10", parked(10)}} {
		n := float64(len(c.pts))
		for _, enc := range []struct {
			name string
			f    func([]byte, []Point) []byte
		}{{"json", AppendTrackBatch}, {"cbor", AppendTrackBatchCBOR}} {
			b.Run(fmt.Sprintf("%s/%s", c.name, enc.name), func(b *testing.B) {
				buf := make([]byte, 0, 8192)
				for b.Loop() {
					buf = enc.f(buf[:0], c.pts)
				}
				b.ReportMetric(float64(len(buf))/n, "B/point")
				b.ReportMetric(float64(publish(len(buf)))/n, "mqtt-B/point")
				b.ReportMetric(float64(publish(len(buf))+link)/n, "link-B/point")
			})
		}
	}
}
