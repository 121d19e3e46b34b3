package main

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"strconv"

	"github.com/pttagent/pttagent/gps"
)

// trackWriter exports the valid fixes of a log as a track.
type trackWriter interface {
	add(f *gps.Fix)
	end()
}

// gpx writes a GPX 1.1 track as it goes: one trkpt per valid fix, with
// the elements GPX has for what a fix carries (ele, time, fix, sat, hdop,
// vdop, pdop, in the schema's order). Speed, course and accuracy have no
// GPX 1.1 element; GeoJSON's export has none of them either.
type gpx struct {
	w   *bufio.Writer
	buf []byte
}

func newGPX(w *bufio.Writer, name string) *gpx {
	w.WriteString(xml.Header)
	w.WriteString(`<gpx version="1.1" creator="pttagent" xmlns="http://www.topografix.com/GPX/1/1">` + "\n<trk>\n<name>")
	xml.EscapeText(w, []byte(name))
	w.WriteString("</name>\n<trkseg>\n")
	return &gpx{w: w}
}

func (g *gpx) add(f *gps.Fix) {
	b := append(g.buf[:0], `<trkpt lat="`...)
	b = strconv.AppendFloat(b, f.Lat, 'f', 9, 64)
	b = append(b, `" lon="`...)
	b = strconv.AppendFloat(b, f.Lon, 'f', 9, 64)
	b = append(b, `">`...)
	if f.Mode == gps.Mode3D && f.Is(gps.HasAltitude) {
		b = append(b, "<ele>"...)
		b = strconv.AppendFloat(b, f.Alt, 'f', 1, 64)
		b = append(b, "</ele>"...)
	}
	if f.Is(gps.HasTime | gps.HasDate) {
		b = append(b, "<time>"...)
		b = f.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
		b = append(b, "</time>"...)
	}
	switch {
	case f.Quality == 2:
		b = append(b, "<fix>dgps</fix>"...)
	case f.Mode == gps.Mode3D:
		b = append(b, "<fix>3d</fix>"...)
	case f.Mode == gps.Mode2D:
		b = append(b, "<fix>2d</fix>"...)
	}
	if f.Is(gps.HasSats) {
		b = append(b, "<sat>"...)
		b = strconv.AppendInt(b, int64(f.Sats), 10)
		b = append(b, "</sat>"...)
	}
	for _, d := range []struct {
		tag string
		has gps.Fields
		v   float64
	}{{"hdop", gps.HasHDOP, f.HDOP}, {"vdop", gps.HasVDOP, f.VDOP}, {"pdop", gps.HasPDOP, f.PDOP}} {
		if f.Is(d.has) {
			b = append(b, '<')
			b = append(b, d.tag...)
			b = append(b, '>')
			b = strconv.AppendFloat(b, d.v, 'f', 2, 64)
			b = append(b, "</"...)
			b = append(b, d.tag...)
			b = append(b, '>')
		}
	}
	b = append(b, "</trkpt>\n"...)
	g.w.Write(b)
	g.buf = b
}

func (g *gpx) end() { g.w.WriteString("</trkseg>\n</trk>\n</gpx>\n") }

// geoJSON writes the track as one Feature: a LineString of [lon, lat]
// positions, with the times in the properties' coordTimes (the convention
// of Mapbox's togeojson, read by most map tools) and the accuracy (metres,
// Fix.Accuracy; null when not known) in coordAccuracies. A log with a single
// fix gives a Point; one with none, no feature.
type geoJSON struct {
	w     *bufio.Writer
	name  string
	pos   [][2]float64
	times []*string
	acc   []*float64
}

func (g *geoJSON) add(f *gps.Fix) {
	g.pos = append(g.pos, [2]float64{round9(f.Lon), round9(f.Lat)})
	var t *string
	if f.Is(gps.HasTime | gps.HasDate) {
		s := f.Time.UTC().Format("2006-01-02T15:04:05.000Z")
		t = &s
	}
	g.times = append(g.times, t)
	var a *float64
	if f.Is(gps.HasAccuracy) {
		v := float64(int(f.Accuracy*100+0.5)) / 100
		a = &v
	}
	g.acc = append(g.acc, a)
}

// round9 keeps the nine decimals the receiver's minutes give at most.
func round9(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 9, 64), 64)
	return f
}

func (g *geoJSON) end() {
	type geometry struct {
		Type        string `json:"type"`
		Coordinates any    `json:"coordinates"`
	}
	type feature struct {
		Type       string         `json:"type"`
		Geometry   geometry       `json:"geometry"`
		Properties map[string]any `json:"properties"`
	}
	out := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	props := map[string]any{"name": g.name, "coordTimes": g.times, "coordAccuracies": g.acc}
	switch len(g.pos) {
	case 0:
	case 1:
		out.Features = append(out.Features, feature{"Feature", geometry{"Point", g.pos[0]}, props})
	default:
		out.Features = append(out.Features, feature{"Feature", geometry{"LineString", g.pos}, props})
	}
	json.NewEncoder(g.w).Encode(out)
}
