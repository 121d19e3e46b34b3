package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// A version 2 track batch is CBOR (RFC 8949): an array whose first item is
// the version, 2, and each further item one point's row, an array of
// integers in the columns of TrackFields, each scaled to an integer
// (trackColumns: the same resolution version 1 writes in decimals) and,
// for the columns that change little from one point to the next, written
// as the difference from the previous row's value. Unknown values are
// null. Trailing columns that are 0 may be left off, as in version 1. A
// parked handset's point costs about 13 bytes, a moving one's about 20,
// where version 1 takes 60–80 (BENCHMARKS.md).
//
// The encoder writes CBOR's integers, arrays and null itself, in their
// shortest form, without allocating (the track sender's batch is the
// same hot path as version 1's); the decoder — the side that reads
// untrusted input — is fxamacker/cbor's, with limits.

// trackColumn is how one column of TrackFields travels in version 2.
type trackColumn struct {
	name  string
	scale float64 // the value times scale, rounded, is the integer sent
	delta bool    // sent as the difference from the previous row's (known) value
	get   func(*Point) float64
	set   func(*Point, float64)
}

// trackColumns are TrackFields in version 2, in the same order (a test
// holds them together).
var trackColumns = []trackColumn{
	{"seq", 1, true, func(p *Point) float64 { return float64(p.Seq) }, func(p *Point, v float64) { p.Seq = uint64(whole(v)) }},
	{"created", 1, true, func(p *Point) float64 { return float64(p.Created) }, func(p *Point, v float64) { p.Created = int64(whole(v)) }},
	{"latitude", 1e6, true, func(p *Point) float64 { return p.Latitude }, func(p *Point, v float64) { p.Latitude = v }},
	{"longitude", 1e6, true, func(p *Point) float64 { return p.Longitude }, func(p *Point, v float64) { p.Longitude = v }},
	{"speed", 10, false, func(p *Point) float64 { return p.Speed }, func(p *Point, v float64) { p.Speed = v }},
	{"altitude", 10, true, func(p *Point) float64 { return p.Altitude }, func(p *Point, v float64) { p.Altitude = v }},
	{"bearing", 1, false, func(p *Point) float64 { return p.Bearing }, func(p *Point, v float64) { p.Bearing = v }},
	{"hdop", 10, false, func(p *Point) float64 { return p.HDOP }, func(p *Point, v float64) { p.HDOP = v }},
	{"sats", 1, false, func(p *Point) float64 { return float64(p.Sats) }, func(p *Point, v float64) { p.Sats = int(whole(v)) }},
	{"mode", 1, false, func(p *Point) float64 { return float64(p.Mode) }, func(p *Point, v float64) { p.Mode = int(whole(v)) }},
	{"positionType", 1, false, func(p *Point) float64 { return float64(p.PositionType) }, func(p *Point, v float64) { p.PositionType = int(whole(v)) }},
	{"trigger", 1, false, func(p *Point) float64 { return float64(p.Trigger) }, func(p *Point, v float64) { p.Trigger = Trigger(whole(v)) }},
	{"fixAge", 1, false, func(p *Point) float64 { return float64(p.FixAge) }, func(p *Point, v float64) { p.FixAge = int64(whole(v)) }},
	{"accuracy", 10, false, func(p *Point) float64 { return p.Accuracy }, func(p *Point, v float64) { p.Accuracy = v }},
}

// whole is v as an integer column's value; "not known" is 0 there.
func whole(v float64) int64 {
	if math.IsNaN(v) {
		return 0
	}
	return int64(v)
}

// TrackVersionCBOR is the version of a CBOR track batch.
const TrackVersionCBOR = 2

// AppendTrackBatchCBOR appends the version 2 (CBOR) batch of pts to dst.
// It does not allocate when dst has room.
func AppendTrackBatchCBOR(dst []byte, pts []Point) []byte {
	dst = cborHead(dst, 4, uint64(len(pts)+1))
	dst = cborInt(dst, TrackVersionCBOR)
	var prev [16]int64 // the last known value of each delta column
	var known [16]bool
	for i := range pts {
		p := &pts[i]
		n := len(trackColumns)
		for n > trackRequired && trackColumns[n-1].get(p) == 0 {
			n--
		}
		dst = cborHead(dst, 4, uint64(n))
		for c, col := range trackColumns[:n] {
			v, ok := scaled(col.get(p), col.scale)
			switch {
			case !ok:
				dst = append(dst, 0xf6) // null
				continue
			case col.delta && known[c]:
				dst = cborInt(dst, v-prev[c])
			default:
				dst = cborInt(dst, v)
			}
			prev[c], known[c] = v, true
		}
	}
	return dst
}

// scaled is v×scale as the integer sent; false for "not known".
func scaled(v, scale float64) (int64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return int64(math.Round(v * scale)), true
}

// cborHead appends a CBOR head: major type and argument, shortest form.
func cborHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= math.MaxUint8:
		return append(dst, m|24, byte(n))
	case n <= math.MaxUint16:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func cborInt(dst []byte, v int64) []byte {
	if v < 0 {
		return cborHead(dst, 1, uint64(-(v + 1)))
	}
	return cborHead(dst, 0, uint64(v))
}

// maxTrackRows bounds a decoded batch: a batch is at most a few thousand
// points (tracks.queue.batch_points ≤ 1000).
const maxTrackRows = 10_000

var trackDecoder = func() cbor.DecMode {
	dm, err := cbor.DecOptions{MaxArrayElements: maxTrackRows + 1, MaxNestedLevels: 4, MaxMapPairs: 16}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// decodeTrackBatchCBOR parses a version 2 batch.
func decodeTrackBatchCBOR(payload []byte) ([]Point, error) {
	var rows []cbor.RawMessage
	if err := trackDecoder.Unmarshal(payload, &rows); err != nil {
		return nil, fmt.Errorf("decode track batch: %w", err)
	}
	var v int
	if len(rows) == 0 || trackDecoder.Unmarshal(rows[0], &v) != nil || v != TrackVersionCBOR {
		return nil, errors.New("decode track batch: a CBOR batch must begin with version 2")
	}
	rows = rows[1:]
	pts := make([]Point, 0, len(rows))
	var prev [16]int64
	var known [16]bool
	var vals []*int64
	for i, raw := range rows {
		vals = vals[:0]
		if err := trackDecoder.Unmarshal(raw, &vals); err != nil {
			return nil, fmt.Errorf("decode track batch: row %d: %w", i, err)
		}
		if len(vals) < trackRequired || len(vals) > len(trackColumns) {
			return nil, fmt.Errorf("decode track batch: row %d has %d values for %d fields", i, len(vals), len(trackColumns))
		}
		var p Point
		for c, col := range trackColumns {
			var x int64 // a trailing column left off: 0
			switch {
			case c >= len(vals):
			case vals[c] == nil:
				col.set(&p, math.NaN())
				continue
			case col.delta && known[c]:
				x = prev[c] + *vals[c]
			default:
				x = *vals[c]
			}
			if c < len(vals) {
				prev[c], known[c] = x, true
			}
			col.set(&p, float64(x)/col.scale)
		}
		if !known[0] || p.Seq == 0 || vals[0] == nil || vals[1] == nil {
			return nil, fmt.Errorf("decode track batch: row %d: no seq or created", i)
		}
		if math.IsNaN(p.Latitude) || math.IsNaN(p.Longitude) || math.Abs(p.Latitude) > 90 || math.Abs(p.Longitude) > 180 {
			return nil, fmt.Errorf("decode track batch: row %d: position out of range", i)
		}
		pts = append(pts, p)
	}
	return pts, nil
}
