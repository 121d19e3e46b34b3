package gps

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nmea "github.com/adrianmo/go-nmea"
)

// The differential tests hold our decoder to go-nmea, the reference
// oracle: whenever go-nmea accepts a sentence, we must either decode the
// same values or refuse it for one of the reasons we are stricter by design
// (strictRefusal), never silently differ.

// strictRefusal reports whether our refusal of field i of the sentence is
// one of the documented cases where we are stricter than go-nmea: numbers
// in a syntax no receiver sends (+1, 1e3, Inf, hex), negative values where
// none can be, minutes ≥ 60, degrees past the poles or the date line,
// impossible times and dates, a hemisphere on the wrong axis, half a
// position, mode and status letters outside NMEA's set, PRN 0, an address
// that is not upper-case letters, a sentence over MaxSentence bytes.
func strictRefusal(k kind, fields []string, i int) bool {
	if i == 0 {
		return true // address: go-nmea accepts "gpRMC"
	}
	if i >= len(fields) {
		return false // too few fields: go-nmea needs at least as many as we do
	}
	f := fields[i]
	numeric := func(signed bool) bool { return !nmeaDecimal(f, signed) || len(f) > 20 }
	get := func(j int) string {
		if j < len(fields) {
			return fields[j]
		}
		return ""
	}
	coord := func(lat int) bool {
		// lat is the index of the latitude field; i is lat or lat+2.
		v, h := get(i), get(i+1)
		limit, pos, neg := 90.0, "N", "S"
		if i == lat+2 {
			limit, pos, neg = 180, "E", "W"
		}
		if (v == "") != (h == "") || (get(lat) == "") != (get(lat+2) == "") {
			return true // half a coordinate or half a position
		}
		if h != pos && h != neg {
			return true // wrong axis; go-nmea takes E for a latitude
		}
		if !nmeaDecimal(v, false) {
			return true
		}
		x, _ := strconv.ParseFloat(v, 64)
		deg := math.Floor(x / 100)
		return x-deg*100 >= 60 || deg > limit || deg+(x-deg*100)/60 > limit
	}
	tod := func() bool {
		if len(f) < 6 {
			return false
		}
		h, _ := strconv.Atoi(f[0:2])
		m, _ := strconv.Atoi(f[2:4])
		s, _ := strconv.Atoi(f[4:6])
		return h > 23 || m > 59 || s > 60
	}
	modeLetters := func() bool {
		for _, c := range []byte(f) {
			if !isFAAMode(c) {
				return true
			}
		}
		return len(f) > 1
	}
	switch k {
	case kindRMC:
		switch i {
		case 1:
			return tod()
		case 3, 5:
			return coord(3)
		case 7:
			return numeric(false)
		case 8:
			v, _ := strconv.ParseFloat(f, 64)
			return numeric(false) || v > 360
		case 9:
			return true // go-nmea takes day 31 of February and "+1+2+3"
		case 12:
			return modeLetters()
		}
	case kindGGA:
		switch i {
		case 1:
			return tod()
		case 2, 4:
			return coord(2)
		case 7:
			n, err := strconv.Atoi(f)
			return err != nil || n < 0 || n > 999 || !nmeaDecimal(f, false) || strings.Contains(f, ".")
		case 8:
			return numeric(false)
		case 9:
			return numeric(true)
		}
	case kindGSA:
		switch {
		case i >= 3 && i <= 14:
			n, err := strconv.Atoi(f)
			return err != nil || n <= 0 || n > 999 || strings.ContainsAny(f, "+-")
		case i >= 15 && i <= 17:
			return numeric(false)
		case i == 18:
			return len(f) != 1 || f == "0" // go-nmea takes any hex number
		}
	case kindVTG:
		switch i {
		case 1:
			v, _ := strconv.ParseFloat(f, 64)
			return numeric(false) || v > 360
		case 5, 7:
			return numeric(false)
		case 9:
			return modeLetters()
		}
	case kindGNS:
		switch i {
		case 1:
			return tod()
		case 2, 4:
			return coord(2)
		case 6:
			return len(f) > 8
		case 7:
			n, err := strconv.Atoi(f)
			return err != nil || n < 0 || n > 999 || strings.ContainsAny(f, "+-")
		case 8:
			return numeric(false)
		case 9:
			return numeric(true)
		}
	case kindGLL:
		switch i {
		case 1, 3:
			return coord(1)
		case 5:
			return tod()
		case 7:
			return modeLetters()
		}
	case kindZDA:
		switch i {
		case 1:
			return tod()
		case 2:
			d, _ := strconv.Atoi(get(2))
			m, _ := strconv.Atoi(get(3))
			y, _ := strconv.Atoi(get(4))
			_, ok := makeCivil(y, m, d)
			return !ok || len(get(4)) != 4 || strings.ContainsAny(get(2)+get(3)+get(4), "+-") || get(2) == "" || get(3) == "" || get(4) == ""
		}
	}
	return false
}

// compareWithNMEA decodes raw with both decoders and reports differences.
func compareWithNMEA(t *testing.T, raw string) {
	t.Helper()
	if raw == "" || raw[0] != '$' || strings.TrimSpace(raw) != raw {
		return // go-nmea trims spaces and takes tag blocks; the Scanner never passes either
	}
	body := raw[1:strings.IndexByte(raw, '*')]
	fields := strings.Split(body, ",")
	if len(fields[0]) != 5 || !strings.Contains(" RMC GGA GSA VTG GNS GLL ZDA", fields[0][2:]) {
		// Only our types: go-nmea v1.11.0 panics on some others (an ALC
		// without fields: "makeslice: cap out of range").
		return
	}
	theirs, err := parseNMEA(raw)
	var d decoded
	res, reason := decode([]byte(raw), &d)
	if err != nil {
		return // refused by the oracle: nothing to compare
	}
	switch res {
	case decIgnored:
		switch theirs.(type) {
		case nmea.RMC, nmea.GGA, nmea.GSA, nmea.VTG, nmea.GNS, nmea.GLL, nmea.ZDA:
			if !strings.HasPrefix(body, "P") {
				t.Fatalf("%s: we ignore a sentence go-nmea decodes as %T", raw, theirs)
			}
		}
		return
	case decDropped:
		if reason == DropFraming && !isUpperAddress(fields[0]) {
			return
		}
		if reason == DropOverlong && len(raw) > MaxSentence {
			return // longer than any receiver's sentence: corruption
		}
		if reason != DropDecode || !strictRefusal(d.kind, fields, d.bad) {
			t.Fatalf("%s: go-nmea accepts it as %+v, we drop it (%v, field %d)", raw, theirs, reason, d.bad)
		}
		return
	}

	near := func(what string, ours, ref, tol float64) {
		t.Helper()
		if math.Abs(ours-ref) > tol*math.Max(1, math.Abs(ref)) {
			t.Fatalf("%s: %s = %v, go-nmea %v", raw, what, ours, ref)
		}
	}
	has := func(fl Fields) bool { return d.fix.Has&fl != 0 }
	pos := func(lat, lon float64) {
		t.Helper()
		if has(HasPosition) {
			near("lat", d.fix.Lat, lat, 1e-9)
			near("lon", d.fix.Lon, lon, 1e-9)
		} else if lat != 0 || lon != 0 {
			t.Fatalf("%s: no position, go-nmea %v %v", raw, lat, lon)
		}
	}
	tm := func(ref nmea.Time) {
		t.Helper()
		if d.hasTOD != ref.Valid {
			t.Fatalf("%s: has time %v, go-nmea %v", raw, d.hasTOD, ref.Valid)
		}
		want := time.Duration(ref.Hour)*time.Hour + time.Duration(ref.Minute)*time.Minute +
			time.Duration(ref.Second)*time.Second + time.Duration(ref.Millisecond)*time.Millisecond
		// go-nmea rounds to milliseconds.
		if diff := d.tod - want; diff > 500*time.Microsecond || diff < -500*time.Microsecond {
			t.Fatalf("%s: time %v, go-nmea %v", raw, d.tod, want)
		}
	}
	opt := func(what string, fl Fields, ours, ref float64) {
		t.Helper()
		if has(fl) {
			near(what, ours, ref, 1e-12)
		} else if ref != 0 {
			t.Fatalf("%s: no %s, go-nmea %v", raw, what, ref)
		}
	}
	course := func(ref float64) {
		t.Helper()
		if ref == 360 {
			ref = 0
		}
		opt("course", HasCourse, d.fix.Course, ref)
	}
	verdict := func(status, mode string) validity {
		v := vNone
		switch status {
		case "A":
			v = vGood
		case "V":
			v = vBad
		}
		switch {
		case mode == "N":
			v = vBad
		case mode != "" && v == vNone:
			v = vGood
		}
		return v
	}
	checkValid := func(want validity) {
		t.Helper()
		if d.valid != want {
			t.Fatalf("%s: validity %v, go-nmea's fields say %v", raw, d.valid, want)
		}
	}

	switch s := theirs.(type) {
	case nmea.RMC:
		tm(s.Time)
		pos(s.Latitude, s.Longitude)
		opt("speed", HasSpeed, d.fix.Speed, s.Speed*knotsToMPS)
		course(s.Course)
		if d.date.good != s.Date.Valid || (s.Date.Valid && (d.date.d != s.Date.DD || int(d.date.m) != s.Date.MM || d.date.y%100 != s.Date.YY)) {
			t.Fatalf("%s: date %+v, go-nmea %+v", raw, d.date, s.Date)
		}
		checkValid(verdict(s.Validity, s.FFAMode))
	case nmea.GGA:
		tm(s.Time)
		pos(s.Latitude, s.Longitude)
		q, _ := strconv.Atoi(s.FixQuality)
		if has(HasQuality) != (s.FixQuality != "") || int(d.fix.Quality) != q {
			t.Fatalf("%s: quality %d, go-nmea %q", raw, d.fix.Quality, s.FixQuality)
		}
		opt("sats", HasSats, float64(d.fix.Sats), float64(s.NumSatellites))
		opt("hdop", HasHDOP, d.fix.HDOP, s.HDOP)
		opt("alt", HasAltitude, d.fix.Alt, s.Altitude)
	case nmea.GSA:
		if has(HasMode) != (s.FixType != "") || (s.FixType != "" && strconv.Itoa(int(d.fix.Mode)) != s.FixType) {
			t.Fatalf("%s: mode %v, go-nmea %q", raw, d.fix.Mode, s.FixType)
		}
		if len(s.SV) != d.nprn {
			t.Fatalf("%s: %d PRNs, go-nmea %v", raw, d.nprn, s.SV)
		}
		for i, sv := range s.SV {
			if n, _ := strconv.Atoi(sv); n != int(d.prns[i]) {
				t.Fatalf("%s: PRN %d, go-nmea %s", raw, d.prns[i], sv)
			}
		}
		opt("pdop", HasPDOP, d.fix.PDOP, s.PDOP)
		opt("hdop", HasHDOP, d.fix.HDOP, s.HDOP)
		opt("vdop", HasVDOP, d.fix.VDOP, s.VDOP)
		if len(fields) > 18 && fields[18] != "" && int64(d.sys) != s.SystemID {
			t.Fatalf("%s: system %d, go-nmea %d", raw, d.sys, s.SystemID)
		}
	case nmea.VTG:
		course(s.TrueTrack)
		if fields[5] != "" {
			opt("speed", HasSpeed, d.fix.Speed, s.GroundSpeedKnots*knotsToMPS)
		} else {
			opt("speed", HasSpeed, d.fix.Speed, s.GroundSpeedKPH/3.6)
		}
		checkValid(verdict("", s.FFAMode))
	case nmea.GNS:
		tm(s.Time)
		pos(s.Latitude, s.Longitude)
		want := vNone
		for i, m := range s.Mode {
			if i == 0 {
				want = vBad
			}
			if m != "N" {
				want = vGood
			}
		}
		checkValid(want)
		opt("sats", HasSats, float64(d.fix.Sats), float64(s.SVs))
		opt("hdop", HasHDOP, d.fix.HDOP, s.HDOP)
		opt("alt", HasAltitude, d.fix.Alt, s.Altitude)
	case nmea.GLL:
		tm(s.Time)
		pos(s.Latitude, s.Longitude)
		checkValid(verdict(s.Validity, s.FFAMode))
	case nmea.ZDA:
		tm(s.Time)
		if d.date.good && (d.date.d != int(s.Day) || int(d.date.m) != int(s.Month) || d.date.y != int(s.Year)) {
			t.Fatalf("%s: date %+v, go-nmea %d-%d-%d", raw, d.date, s.Year, s.Month, s.Day)
		}
	default:
		t.Fatalf("%s: we decode what go-nmea calls %T", raw, theirs)
	}
}

// parseNMEA is nmea.Parse with its panics turned into refusals.
func parseNMEA(raw string) (s nmea.Sentence, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-nmea panicked: %v", r)
		}
	}()
	return nmea.Parse(raw)
}

func isUpperAddress(a string) bool {
	if len(a) != 5 {
		return false
	}
	for _, c := range []byte(a) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// TestDifferentialTestdata compares every sentence of every log.
func TestDifferentialTestdata(t *testing.T) {
	logs, _ := filepath.Glob("testdata/*.nmea")
	if len(logs) < 6 {
		t.Fatalf("only %d logs in testdata", len(logs))
	}
	n := 0
	for _, name := range logs {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			compareWithNMEA(t, string(sc.Bytes()))
			n++
		}
	}
	if n < 5000 {
		t.Errorf("compared only %d sentences", n)
	}
}

// TestDifferentialEdges holds the cases where the two decoders are most
// likely to part: the stricter refusals and the value conversions.
func TestDifferentialEdges(t *testing.T) {
	for _, body := range []string{
		"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
		"GPRMC,123519.999,A,4807.038,S,01131.000,W,0.0,360.0,290224,,,D",
		"GPRMC,123519,A,4860.000,N,01131.000,E,022.4,084.4,230394,003.1,W", // minutes 60
		"GPRMC,123519,A,4807.038,E,01131.000,E,022.4,084.4,230394,003.1,W", // E for a latitude
		"GPRMC,123519,A,4807.038,N,01131.000,E,+22.4,084.4,230394,003.1,W",
		"GPRMC,123519,A,4807.038,N,01131.000,E,1e2,084.4,230394,003.1,W",
		"GPRMC,993519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
		"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,310294,003.1,W",
		"GPRMC,123519,A,4807.038,N,,,022.4,084.4,230394,003.1,W", // half a position
		"GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,X",
		"gpRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W",
		"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,-45.4,M,46.9,M,,",
		"GPGGA,123519,9000.000,S,18000.000,W,5,12,0.9,545.4,M,46.9,M,,",
		"GPGGA,123519,8960.000,N,01131.000,E,1,-8,0.9,545.4,M,46.9,M,,",
		"GPGGA,,,,,,0,00,99.99,,,,,,",
		"GNGSA,A,3,01,02,,,,,,,,,,,1.8,1.0,1.5,4",
		"GNGSA,A,3,01,00,,,,,,,,,,,1.8,1.0,1.5,10",
		"GNGSA,A,3,X1,,,,,,,,,,,,1.8,1.0,1.5",
		"GPVTG,054.7,T,034.4,M,005.5,N,010.2,K,A",
		"GPVTG,,T,,M,,N,010.2,K,N",
		"GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,",
		"GNGNS,014035.00,4332.69262,S,17235.48549,E,NNNNNNNNN,13,0.9,25.63,11.24,,",
		"GPGLL,3751.65,S,14507.36,E,225444,A,A",
		"GPZDA,160012.71,11,03,2004,-1,00",
		"GPZDA,160012.71,31,02,2004,-1,00",
	} {
		compareWithNMEA(t, frame(body))
	}
}

// FuzzDifferential frames arbitrary bodies with a correct checksum so that
// go-nmea gets past its checksum check and the field decoders meet.
func FuzzDifferential(f *testing.F) {
	logs, _ := filepath.Glob("testdata/*.nmea")
	for _, name := range logs {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := NewScanner(bytes.NewReader(data))
		for i := 0; sc.Scan() && i < 40; i++ {
			s := sc.Bytes()
			f.Add(string(s[1 : len(s)-3]))
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.ContainsAny(body, "*\r\n") {
			return
		}
		compareWithNMEA(t, frame(body))
	})
}
