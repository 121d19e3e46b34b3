// Package wire is the agent's MQTT wire format: topic names and payloads,
// as documented in docs/protocol.md. The agent, the platform simulator and
// the tests all encode and decode through it, so the document, the sender
// and the receiver cannot drift apart.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Trigger says why a point was taken.
type Trigger uint8

const (
	TriggerPeriod    Trigger = 0 // the member's track period elapsed
	TriggerCorner    Trigger = 1 // heading changed (corner pegging)
	TriggerHeartbeat Trigger = 2 // stationary or no fix: the last valid fix again
)

// PositionType values as in the wapi seed.
const (
	PositionGPS  = 0
	PositionCell = 1
)

// Point is one track point. Units follow the seeds: speed km/h, altitude m,
// bearing degrees 0–360. NaN in a float means "not known" and travels as null.
type Point struct {
	Seq          uint64  // per device, strictly increasing, never reused
	Created      int64   // Unix seconds of the position (the seeds' "created")
	Latitude     float64 // degrees
	Longitude    float64 // degrees
	Speed        float64 // km/h
	Altitude     float64 // metres above mean sea level
	Bearing      float64 // degrees true
	HDOP         float64
	Sats         int
	Mode         int // 2 2D, 3 3D
	PositionType int
	Trigger      Trigger
	// FixAge is how many seconds old the position was when the point was
	// taken; non-zero only for heartbeats, whose Created is the time the
	// position was measured.
	FixAge int64
	// Accuracy is the estimated horizontal error in metres (gps.Fix's: the
	// radius of about 63-68 % probability); 0 when not known.
	Accuracy float64
}

// TrackFields are the columns of a version 1 track batch, in order. Names
// are the seeds' where a seed has one. The order is fixed by the version, so
// the names are not repeated in every message (at a 60 s period most
// messages carry one point, and a header would double their size); a batch
// may name its columns in "fields" and a decoder honours that.
var TrackFields = []string{"seq", "created", "latitude", "longitude", "speed", "altitude", "bearing", "hdop", "sats", "mode", "positionType", "trigger", "fixAge", "accuracy"}

// trackRequired is how many leading columns every row carries; the rest
// may be left off the end of a row when they are 0.
const trackRequired = 10

var trackHeader = []byte(`{"v":1,"points":[`)

// TrackBatchOverhead is the encoded size of a batch without points.
var TrackBatchOverhead = len(trackHeader) + len("]}")

// AppendTrackBatch appends the JSON batch of pts to dst. It does not
// allocate when dst has room.
func AppendTrackBatch(dst []byte, pts []Point) []byte {
	dst = append(dst, trackHeader...)
	for i := range pts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendTrackRow(dst, &pts[i])
	}
	return append(dst, "]}"...)
}

// AppendTrackRow appends one point's row, e.g.
// [17,1731997061,22.668835,115.070211,12.3,23.2,231,1.1,9,3] — the
// columns after mode (positionType, trigger, fixAge, accuracy) only when
// not all 0.
func AppendTrackRow(dst []byte, p *Point) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendUint(dst, p.Seq, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, p.Created, 10)
	dst = appendFloat(dst, p.Latitude, 6) // 0.11 m, as the seeds
	dst = appendFloat(dst, p.Longitude, 6)
	dst = appendFloat(dst, p.Speed, 1)
	dst = appendFloat(dst, p.Altitude, 1)
	dst = appendFloat(dst, p.Bearing, 0)
	dst = appendFloat(dst, p.HDOP, 1)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(p.Sats), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(p.Mode), 10)
	accuracy := p.Accuracy > 0 && !math.IsInf(p.Accuracy, 0)
	if p.PositionType == 0 && p.Trigger == 0 && p.FixAge == 0 && !accuracy {
		return append(dst, ']')
	}
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(p.PositionType), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, int64(p.Trigger), 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, p.FixAge, 10)
	if accuracy {
		dst = appendFloat(dst, p.Accuracy, 1)
	}
	return append(dst, ']')
}

// appendFloat writes ",v" with at most prec decimals and no trailing zeros.
func appendFloat(dst []byte, v float64, prec int) []byte {
	dst = append(dst, ',')
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, v, 'f', prec, 64)
	if prec > 0 {
		dst = bytes.TrimRight(dst, "0")
		if dst[len(dst)-1] == '.' {
			dst = dst[:len(dst)-1]
		}
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// DecodeTrackBatch parses a batch as the platform does. It accepts any
// column order and ignores unknown columns, so that fields can be added.
//
// A payload that is a CBOR array (its first byte 0x80–0x9f, where JSON
// begins with '{') is a version 2 batch (AppendTrackBatchCBOR).
func DecodeTrackBatch(payload []byte) ([]Point, error) {
	if len(payload) > 0 && payload[0]>>5 == 4 {
		return decodeTrackBatchCBOR(payload)
	}
	var b struct {
		V      int                 `json:"v"`
		Fields []string            `json:"fields"`
		Points [][]json.RawMessage `json:"points"`
	}
	if err := json.Unmarshal(payload, &b); err != nil {
		return nil, fmt.Errorf("decode track batch: %w", err)
	}
	if b.V != 1 {
		return nil, fmt.Errorf("decode track batch: version %d not supported", b.V)
	}
	required := len(b.Fields)
	if b.Fields == nil {
		b.Fields, required = TrackFields, trackRequired
	}
	col := map[string]int{}
	for i, f := range b.Fields {
		col[f] = i
	}
	for _, req := range []string{"seq", "created", "latitude", "longitude"} {
		if _, ok := col[req]; !ok {
			return nil, fmt.Errorf("decode track batch: no %q column", req)
		}
	}
	pts := make([]Point, 0, len(b.Points))
	for i, row := range b.Points {
		if len(row) < required || len(row) > len(b.Fields) {
			return nil, fmt.Errorf("decode track batch: row %d has %d values for %d fields", i, len(row), len(b.Fields))
		}
		num := func(name string) float64 {
			j, ok := col[name]
			if !ok {
				return math.NaN()
			}
			if j >= len(row) {
				return 0 // a trailing column left off: 0
			}
			var f *float64
			if err := json.Unmarshal(row[j], &f); err != nil || f == nil {
				return math.NaN()
			}
			return *f
		}
		p := Point{
			Latitude: num("latitude"), Longitude: num("longitude"),
			Speed: num("speed"), Altitude: num("altitude"), Bearing: num("bearing"), HDOP: num("hdop"),
		}
		var seq uint64
		if err := json.Unmarshal(row[col["seq"]], &seq); err != nil || seq == 0 {
			return nil, fmt.Errorf("decode track batch: row %d: bad seq %s", i, row[col["seq"]])
		}
		p.Seq = seq
		if err := json.Unmarshal(row[col["created"]], &p.Created); err != nil {
			return nil, fmt.Errorf("decode track batch: row %d: bad created %s", i, row[col["created"]])
		}
		if math.IsNaN(p.Latitude) || math.IsNaN(p.Longitude) || math.Abs(p.Latitude) > 90 || math.Abs(p.Longitude) > 180 {
			return nil, errors.New("decode track batch: row " + strconv.Itoa(i) + ": position out of range")
		}
		for name, dst := range map[string]*int{"sats": &p.Sats, "mode": &p.Mode, "positionType": &p.PositionType} {
			if v := num(name); !math.IsNaN(v) {
				*dst = int(v)
			}
		}
		if v := num("trigger"); !math.IsNaN(v) {
			p.Trigger = Trigger(v)
		}
		if v := num("fixAge"); !math.IsNaN(v) {
			p.FixAge = int64(v)
		}
		if v := num("accuracy"); v > 0 {
			p.Accuracy = v
		}
		pts = append(pts, p)
	}
	return pts, nil
}
