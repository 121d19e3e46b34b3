// Command nmeagen synthesises the NMEA logs in gps/testdata.
//
// We have no receiver to record from, so the logs are made by simulating a
// vehicle and a sky, and writing each 1 Hz cycle the way a given receiver
// family documents its output (sentence order, talkers, field precision,
// empty fields without a fix). The output is deterministic: run
//
//	go run ./gps/internal/nmeagen -out gps/testdata
//
// and git diff shows nothing unless this program changed.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", "gps/testdata", "directory to write the logs into")
	flag.Parse()
	for _, l := range logs() {
		path := filepath.Join(*out, l.name)
		if err := os.WriteFile(path, l.data, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d bytes\n", path, len(l.data))
	}
}

type logFile struct {
	name string
	data []byte
}

// logs returns every log, in the order of gps/testdata/README.md.
func logs() []logFile {
	drive := simulate(driveScript, time.Date(2024, 11, 19, 6, 15, 0, 0, time.UTC), 48.137154, 11.576124, 7)
	ublox := ubloxM8(drive)
	return []logFile{
		{"ublox-m8-drive.nmea", ublox},
		{"quectel-l76-bd.nmea", quectelL76(simulate(cityScript, time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC), 31.230416, 121.473701, 11))},
		{"quectel-lc29h-gns.nmea", quectelLC29H(simulate(cityScript, time.Date(2025, 6, 21, 14, 0, 0, 500e6, time.UTC), 22.543096, 114.057865, 13))},
		{"sirf-gp.nmea", sirf(simulate(walkScript, time.Date(2023, 8, 2, 17, 45, 10, 0, time.UTC), 51.507351, -0.127758, 17))},
		{"coldstart.nmea", ubloxM8(coldStart(time.Date(2024, 11, 19, 5, 58, 0, 0, time.UTC), -33.868820, 151.209290, 19))},
		{"midnight.nmea", midnight(simulate(midnightScript, time.Date(2024, 12, 31, 23, 59, 30, 0, time.UTC), 40.712776, -74.005974, 23))},
		{"hostile.nmea", hostile(ublox, 29)},
	}
}

// A leg of a journey: hold for dur seconds while speeding up or slowing
// down towards speed (km/h) and turning at turn degrees per second.
type leg struct {
	dur   int
	speed float64
	turn  float64
	sky   skyState
}

type skyState uint8

const (
	open   skyState = iota // all satellites above 10°
	street                 // urban canyon: low satellites lost, weaker signals
	tunnel                 // underpass: nothing usable
	canopy                 // trees or a roof: only a few satellites, 2D
)

// driveScript is three minutes of a morning drive: a stop at a light, a
// right turn, an underpass, a left turn onto a faster road.
var driveScript = []leg{
	{dur: 12, speed: 0},
	{dur: 10, speed: 50},
	{dur: 25, speed: 50},
	{dur: 9, speed: 25, turn: 10},
	{dur: 15, speed: 45, sky: street},
	{dur: 4, speed: 45, sky: canopy},
	{dur: 5, speed: 45, sky: tunnel},
	{dur: 3, speed: 45, sky: canopy},
	{dur: 12, speed: 45},
	{dur: 8, speed: 0},
	{dur: 14, speed: 0},
	{dur: 9, speed: 20, turn: -10},
	{dur: 15, speed: 80},
	{dur: 30, speed: 90, turn: 0.5},
	{dur: 10, speed: 60, turn: -2},
}

// cityScript is two minutes of slow city traffic.
var cityScript = []leg{
	{dur: 8, speed: 0},
	{dur: 12, speed: 35},
	{dur: 20, speed: 40, sky: street},
	{dur: 6, speed: 15, turn: 15},
	{dur: 20, speed: 40},
	{dur: 10, speed: 0},
	{dur: 10, speed: 30, turn: -9},
	{dur: 15, speed: 50},
	{dur: 5, speed: 45, sky: canopy},
	{dur: 14, speed: 30},
}

// walkScript is two minutes of walking in and out of a building.
var walkScript = []leg{
	{dur: 10, speed: 0},
	{dur: 30, speed: 5, turn: 0.3},
	{dur: 10, speed: 4, sky: canopy},
	{dur: 8, speed: 3, sky: tunnel},
	{dur: 10, speed: 4, sky: canopy},
	{dur: 40, speed: 5, turn: -1},
	{dur: 12, speed: 0},
}

// midnightScript crosses midnight of New Year's Eve.
var midnightScript = []leg{
	{dur: 10, speed: 0},
	{dur: 20, speed: 30},
	{dur: 15, speed: 30, turn: 3},
	{dur: 15, speed: 0},
}

// sat is a satellite in view.
type sat struct {
	sys   byte // 'P' GPS, 'L' GLONASS, 'A' Galileo, 'B' BeiDou
	prn   int  // in the system's own numbering (GLONASS 65..96 as NMEA has it)
	elev  int
	az    int
	snr   int // dB-Hz, 0 when not tracked
	used  bool
	phase float64
}

// epoch is the receiver's state at one cycle.
type epoch struct {
	t         time.Time
	timeKnown bool // the receiver knows UTC (before the first fix it may not)
	dateKnown bool
	lat, lon  float64
	alt, sep  float64
	speed     float64 // m/s
	course    float64
	mode      int // 1 none, 2 2D, 3 3D
	sats      []sat
	hdop      float64
	pdop      float64
	vdop      float64
}

func (e *epoch) used(sys byte) []sat {
	var u []sat
	for _, s := range e.sats {
		if s.used && (sys == 0 || s.sys == sys) {
			u = append(u, s)
		}
	}
	return u
}

func (e *epoch) nused() int { return len(e.used(0)) }

// constellation returns the satellites in view over a place, with a
// deterministic pseudo-random sky.
func constellation(rng *rand.Rand) []sat {
	var sats []sat
	add := func(sys byte, prns []int) {
		for _, p := range prns {
			sats = append(sats, sat{sys: sys, prn: p, elev: 5 + rng.IntN(80), az: rng.IntN(360), phase: rng.Float64() * 6})
		}
	}
	add('P', []int{2, 5, 7, 9, 13, 15, 18, 20, 25, 29, 30})
	add('L', []int{65, 66, 72, 73, 80, 81, 88})
	add('A', []int{3, 5, 8, 13, 15, 27})
	add('B', []int{6, 9, 14, 16, 21, 26, 39})
	return sats
}

// simulate runs a script from a start time and place at 1 Hz.
func simulate(script []leg, start time.Time, lat, lon float64, seed uint64) []epoch {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	sky := constellation(rng)
	const earth = 6371008.8
	speed, course := 0.0, 30.0+rng.Float64()*300
	alt := 500 + rng.Float64()*40
	var eps []epoch
	t := start
	for _, l := range script {
		target := l.speed / 3.6
		for i := 0; i < l.dur; i++ {
			// Accelerate at most 2 m/s², as cars do.
			speed += math.Max(-2.5, math.Min(2, target-speed))
			course = math.Mod(course+l.turn+360, 360)
			d := speed
			lat += d * math.Cos(course*math.Pi/180) / earth * 180 / math.Pi
			lon += d * math.Sin(course*math.Pi/180) / (earth * math.Cos(lat*math.Pi/180)) * 180 / math.Pi
			alt += (rng.Float64() - 0.5) * 0.4
			e := epoch{t: t, timeKnown: true, dateKnown: true, lat: lat, lon: lon, alt: alt, sep: 47.5, speed: speed, course: course}
			e.sats = track(sky, l.sky, t.Sub(start).Seconds(), rng)
			n := e.nused()
			switch {
			case n >= 4 && l.sky != canopy:
				e.mode = 3
			case n >= 3:
				e.mode = 2
			default:
				e.mode = 1
			}
			e.hdop = round(0.6+5.0/float64(max(n, 1)), 2)
			e.vdop = round(e.hdop*1.3, 2)
			e.pdop = round(math.Hypot(e.hdop, e.vdop), 2)
			// Position noise of a few decimetres, more in the street.
			noise := 0.3
			if l.sky != open {
				noise = 1.5
			}
			e.lat += rng.NormFloat64() * noise / earth * 180 / math.Pi
			e.lon += rng.NormFloat64() * noise / earth * 180 / math.Pi
			eps = append(eps, e)
			t = t.Add(time.Second)
		}
	}
	return eps
}

// track decides which satellites are tracked and used at second s.
func track(sky []sat, st skyState, s float64, rng *rand.Rand) []sat {
	out := make([]sat, len(sky))
	copy(out, sky)
	for i := range out {
		o := &out[i]
		snr := 22 + float64(o.elev)/3 + 3*math.Sin(s/20+o.phase) + rng.NormFloat64()
		switch st {
		case street:
			if o.elev < 35 {
				snr = 0
			} else {
				snr -= 6
			}
		case canopy:
			if o.elev < 55 {
				snr = 0
			} else {
				snr -= 10
			}
		case tunnel:
			snr = 0
		}
		if snr < 12 {
			snr = 0
		}
		o.snr = int(snr)
		o.used = o.snr >= 25 && o.elev >= 10
	}
	return out
}

// coldStart is a receiver switched on without almanac: nothing for a while,
// then time without a fix, then 2D, then 3D.
func coldStart(start time.Time, lat, lon float64, seed uint64) []epoch {
	rng := rand.New(rand.NewPCG(seed, 1))
	sky := constellation(rng)
	var eps []epoch
	for i := range 95 {
		t := start.Add(time.Duration(i) * time.Second)
		e := epoch{t: t, lat: lat + rng.NormFloat64()*2e-5, lon: lon + rng.NormFloat64()*2e-5, alt: 38 + rng.NormFloat64(), sep: 22.1, mode: 1}
		e.sats = track(sky, open, float64(i), rng)
		switch {
		case i < 25: // searching: no time, no satellites tracked
			for j := range e.sats {
				e.sats[j].snr, e.sats[j].used = 0, false
			}
		case i < 45: // tracking, time from the first navigation message, no fix
			e.timeKnown, e.dateKnown = true, i >= 32
			for j := range e.sats {
				e.sats[j].used = false
				if j%3 != 0 {
					e.sats[j].snr = 0
				}
			}
		case i < 55: // three satellites: 2D
			e.timeKnown, e.dateKnown = true, true
			n := 0
			for j := range e.sats {
				e.sats[j].used = e.sats[j].used && n < 3
				if e.sats[j].used {
					n++
				}
			}
			e.mode = 2
		default:
			e.timeKnown, e.dateKnown = true, true
			e.mode = 3
		}
		n := e.nused()
		e.hdop, e.pdop, e.vdop = 99.99, 99.99, 99.99
		if e.mode > 1 {
			e.hdop = round(0.6+8.0/float64(n), 2)
			e.vdop = round(e.hdop*1.4, 2)
			e.pdop = round(math.Hypot(e.hdop, e.vdop), 2)
		}
		eps = append(eps, e)
	}
	return eps
}

// sentence frames a body as "$body*hh\r\n".
func sentence(b *bytes.Buffer, format string, args ...any) {
	body := fmt.Sprintf(format, args...)
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	fmt.Fprintf(b, "$%s*%02X\r\n", body, sum)
}

func round(v float64, d int) float64 {
	p := math.Pow(10, float64(d))
	return math.Round(v*p) / p
}

// coord formats a coordinate as NMEA d(dd)mm.mmmm with minute decimals.
func coord(v float64, degDigits, decimals int, pos, neg string) (string, string) {
	h := pos
	if v < 0 {
		h, v = neg, -v
	}
	deg := math.Floor(v)
	min := (v - deg) * 60
	s := fmt.Sprintf("%0*d%0*.*f", degDigits, int(deg), decimals+3, decimals, min)
	if strings.HasPrefix(s[degDigits:], "60") { // rounding up to 60 minutes
		s = fmt.Sprintf("%0*d%0*.*f", degDigits, int(deg)+1, decimals+3, decimals, 0.0)
	}
	return s, h
}

func latlon(e *epoch, decimals int) string {
	la, lh := coord(e.lat, 2, decimals, "N", "S")
	lo, oh := coord(e.lon, 3, decimals, "E", "W")
	return la + "," + lh + "," + lo + "," + oh
}

func hhmmss(t time.Time, decimals int) string {
	s := t.Format("150405")
	if decimals > 0 {
		s += "." + fmt.Sprintf("%0*d", decimals, t.Nanosecond()/int(math.Pow10(9-decimals)))
	}
	return s
}

// gsv writes a system's GSV group; signal is the NMEA 4.10 signal ID or -1.
func gsv(b *bytes.Buffer, talker string, sats []sat, signal int) {
	var vis []sat
	for _, s := range sats {
		if s.elev > 0 {
			vis = append(vis, s)
		}
	}
	n := (len(vis) + 3) / 4
	if n == 0 {
		if signal >= 0 {
			sentence(b, "%sGSV,1,1,00,%X", talker, signal)
		} else {
			sentence(b, "%sGSV,1,1,00", talker)
		}
		return
	}
	for i := range n {
		var f strings.Builder
		fmt.Fprintf(&f, "%sGSV,%d,%d,%02d", talker, n, i+1, len(vis))
		for _, s := range vis[i*4 : min(len(vis), i*4+4)] {
			snr := ""
			if s.snr > 0 {
				snr = fmt.Sprintf("%02d", s.snr)
			}
			fmt.Fprintf(&f, ",%02d,%02d,%03d,%s", s.prn, s.elev, s.az, snr)
		}
		if signal >= 0 {
			fmt.Fprintf(&f, ",%X", signal)
		}
		sentence(b, "%s", f.String())
	}
}

func of(sats []sat, sys byte) []sat {
	var o []sat
	for _, s := range sats {
		if s.sys == sys {
			o = append(o, s)
		}
	}
	return o
}

// prnList formats up to 12 used PRNs as GSA's 12 fields.
func prnList(used []sat) string {
	f := make([]string, 12)
	for i, s := range used {
		if i == 12 {
			break
		}
		f[i] = fmt.Sprintf("%02d", s.prn)
	}
	return strings.Join(f, ",")
}

func knots(mps float64) float64 { return mps / (1852.0 / 3600.0) }

// ubloxM8 writes a u-blox NEO-M8 in its default NMEA 4.0 configuration
// with GPS+GLONASS (u-blox M8 Receiver Description, "NMEA Protocol"):
// RMC, VTG, GGA, one GNGSA per system, GSV per system, GLL, once a second;
// minutes to 5 decimals, time to 2; empty fields and mode N without a fix.
func ubloxM8(eps []epoch) []byte {
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: u-blox NEO-M8 style, NMEA 4.0, GPS+GLONASS\r\n")
	for i := range eps {
		e := &eps[i]
		tm, date, pos, status, mode := "", "", ",,,", "V", "N"
		if e.timeKnown {
			tm = hhmmss(e.t, 2)
		}
		if e.dateKnown {
			date = e.t.Format("020106")
		}
		if e.mode >= 2 {
			pos, status, mode = latlon(e, 5), "A", "A"
		}
		spd, crs, kmh := "", "", ""
		if e.mode >= 2 {
			spd = fmt.Sprintf("%.3f", knots(e.speed))
			kmh = fmt.Sprintf("%.3f", e.speed*3.6)
			if e.speed > 0.5 {
				crs = fmt.Sprintf("%.2f", e.course)
			}
		}
		sentence(&b, "GNRMC,%s,%s,%s,%s,%s,%s,,,%s", tm, status, pos, spd, crs, date, mode)
		if crs != "" {
			sentence(&b, "GNVTG,%s,T,,M,%s,N,%s,K,%s", crs, spd, kmh, mode)
		} else {
			sentence(&b, "GNVTG,,T,,M,%s,N,%s,K,%s", spd, kmh, mode)
		}
		used := e.used(0)
		q, alt, sep := 0, "", ""
		if e.mode >= 2 {
			q = 1
			alt, sep = fmt.Sprintf("%.1f", e.alt), fmt.Sprintf("%.1f", e.sep)
			if e.mode == 2 {
				alt = fmt.Sprintf("%.1f", e.alt) // u-blox keeps the last altitude in 2D
			}
		}
		sentence(&b, "GNGGA,%s,%s,%d,%02d,%.2f,%s,M,%s,M,,", tm, pos, q, min(len(used), 12), e.hdop, alt, sep)
		for _, sys := range []byte{'P', 'L'} {
			u := e.used(sys)
			if e.mode < 2 {
				u = nil
			}
			sentence(&b, "GNGSA,A,%d,%s,%.2f,%.2f,%.2f", e.mode, prnList(u), e.pdop, e.hdop, e.vdop)
		}
		gsv(&b, "GP", of(visible(e), 'P'), -1)
		gsv(&b, "GL", of(visible(e), 'L'), -1)
		glstatus := "V"
		if e.mode >= 2 {
			glstatus = "A"
		}
		sentence(&b, "GNGLL,%s,%s,%s,%s", pos, tm, glstatus, mode)
	}
	return b.Bytes()
}

// visible is what the receiver lists in GSV: satellites it tracks or
// expects; before the almanac is known, nothing.
func visible(e *epoch) []sat {
	if !e.timeKnown {
		return nil
	}
	return e.sats
}

// quectelL76 writes a Quectel L76 (MediaTek) in GPS+BeiDou mode: GNRMC,
// GNVTG, GNGGA, GPGSA and BDGSA, GPGSV and BDGSV, GNGLL; minutes to 4
// decimals, time to 3.
func quectelL76(eps []epoch) []byte {
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: Quectel L76 (MTK) style, GPS+BeiDou, BD talker\r\n")
	for i := range eps {
		e := &eps[i]
		tm, date := hhmmss(e.t, 3), e.t.Format("020106")
		pos, status, mode := ",,,", "V", "N"
		if e.mode >= 2 {
			pos, status, mode = latlon(e, 4), "A", "A"
		}
		spd, crs, kmh := "", "", ""
		if e.mode >= 2 {
			spd, crs, kmh = fmt.Sprintf("%.2f", knots(e.speed)), fmt.Sprintf("%.2f", e.course), fmt.Sprintf("%.2f", e.speed*3.6)
		}
		sentence(&b, "GNRMC,%s,%s,%s,%s,%s,%s,,,%s", tm, status, pos, spd, crs, date, mode)
		sentence(&b, "GNVTG,%s,T,,M,%s,N,%s,K,%s", crs, spd, kmh, mode)
		used := append(e.used('P'), e.used('B')...)
		q, alt, sep := 0, "", ""
		if e.mode >= 2 {
			q, alt, sep = 1, fmt.Sprintf("%.1f", e.alt), fmt.Sprintf("%.1f", e.sep)
		}
		sentence(&b, "GNGGA,%s,%s,%d,%d,%.2f,%s,M,%s,M,,", tm, pos, q, len(used), e.hdop, alt, sep)
		for _, t := range []struct {
			talker string
			sys    byte
		}{{"GP", 'P'}, {"BD", 'B'}} {
			u := e.used(t.sys)
			if e.mode < 2 {
				u = nil
			}
			sentence(&b, "%sGSA,A,%d,%s,%.2f,%.2f,%.2f", t.talker, e.mode, prnList(u), e.pdop, e.hdop, e.vdop)
		}
		gsv(&b, "GP", of(e.sats, 'P'), -1)
		gsv(&b, "BD", of(e.sats, 'B'), -1)
		sentence(&b, "GNGLL,%s,%s,%s,%s", pos, tm, status, mode)
	}
	return b.Bytes()
}

// quectelLC29H writes a Quectel LC29H (Airoha) in NMEA 4.11 mode with four
// systems: GNRMC with navigational status, GNGNS with one mode letter per
// system (GPS, GLONASS, Galileo, BeiDou), GNGSA with system IDs, GSV per
// system with signal IDs (GB for BeiDou), GNVTG. No GGA: the satellite count
// and altitude come from GNS. Time to 3 decimals on half seconds.
func quectelLC29H(eps []epoch) []byte {
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: Quectel LC29H style, NMEA 4.11, GPS+GLONASS+Galileo+BeiDou, GNS and GB talker\r\n")
	systems := []struct {
		sys    byte
		talker string
		id     int
	}{{'P', "GP", 1}, {'L', "GL", 2}, {'A', "GA", 3}, {'B', "GB", 4}}
	for i := range eps {
		e := &eps[i]
		tm, date := hhmmss(e.t, 3), e.t.Format("020106")
		pos, status, mode, nav := ",,,", "V", "N", "V"
		if e.mode >= 2 {
			pos, status, mode, nav = latlon(e, 6), "A", "A", "S"
		}
		spd, crs, kmh := "", "", ""
		if e.mode >= 2 {
			spd, crs, kmh = fmt.Sprintf("%.3f", knots(e.speed)), fmt.Sprintf("%.2f", e.course), fmt.Sprintf("%.3f", e.speed*3.6)
		}
		sentence(&b, "GNRMC,%s,%s,%s,%s,%s,%s,,,%s,%s", tm, status, pos, spd, crs, date, mode, nav)
		modes := ""
		for _, s := range systems {
			if e.mode >= 2 && len(e.used(s.sys)) > 0 {
				modes += "A"
			} else {
				modes += "N"
			}
		}
		alt, sep := "", ""
		if e.mode >= 2 {
			alt, sep = fmt.Sprintf("%.1f", e.alt), fmt.Sprintf("%.1f", e.sep)
		}
		sentence(&b, "GNGNS,%s,%s,%s,%02d,%.2f,%s,%s,,,%s", tm, pos, modes, e.nused(), e.hdop, alt, sep, nav)
		for _, s := range systems {
			u := e.used(s.sys)
			if e.mode < 2 {
				u = nil
			}
			sentence(&b, "GNGSA,A,%d,%s,%.2f,%.2f,%.2f,%d", e.mode, prnList(u), e.pdop, e.hdop, e.vdop, s.id)
		}
		for _, s := range systems {
			gsv(&b, s.talker, of(e.sats, s.sys), 1)
		}
		sentence(&b, "GNVTG,%s,T,,M,%s,N,%s,K,%s", crs, spd, kmh, mode)
	}
	return b.Bytes()
}

// sirf writes a SiRFstarIV-style GPS-only receiver: GPGGA, GPGSA, GPRMC
// each second and the GPGSV group every fifth second, minutes to 4
// decimals, time to 3, no VTG and no GLL (the SiRF default set).
func sirf(eps []epoch) []byte {
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: SiRFstarIV style, GPS only\r\n")
	for i := range eps {
		e := &eps[i]
		e.sats = of(e.sats, 'P')
		tm, date := hhmmss(e.t, 3), e.t.Format("020106")
		pos, status, mode := ",,,", "V", "N"
		if e.mode >= 2 {
			pos, status, mode = latlon(e, 4), "A", "A"
		}
		used := e.used('P')
		q, alt := 0, ""
		if e.mode >= 2 {
			q, alt = 1, fmt.Sprintf("%.1f", e.alt)
		}
		if e.mode < 2 || len(used) < 3 {
			used = nil
		}
		mode3 := e.mode
		if len(used) < 3 {
			mode3 = 1
			q = 0
			pos, status, mode, alt = ",,,", "V", "N", ""
		}
		sentence(&b, "GPGGA,%s,%s,%d,%02d,%.1f,%s,M,%.1f,M,,0000", tm, pos, q, len(used), e.hdop, alt, e.sep)
		sentence(&b, "GPGSA,A,%d,%s,%.1f,%.1f,%.1f", mode3, prnList(used), e.pdop, e.hdop, e.vdop)
		if i%5 == 0 {
			gsv(&b, "GP", e.sats, -1)
		}
		spd, crs := "", ""
		if status == "A" {
			spd, crs = fmt.Sprintf("%.2f", knots(e.speed)), fmt.Sprintf("%.2f", e.course)
		}
		sentence(&b, "GPRMC,%s,%s,%s,%s,%s,%s,,,%s", tm, status, pos, spd, crs, date, mode)
	}
	return b.Bytes()
}

// midnight writes a GPS-only receiver across New Year's midnight whose RMC
// is configured to every fifth second (as SiRF's and MediaTek's rate
// commands allow), so that most cycles carry no date and the reader must
// roll the date over itself: GPGGA, GPGSA every second, GPRMC every fifth.
func midnight(eps []epoch) []byte {
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: GPS only, RMC every 5 s, crossing midnight 2024-12-31/2025-01-01\r\n")
	for i := range eps {
		e := &eps[i]
		tm, date := hhmmss(e.t, 2), e.t.Format("020106")
		used := e.used('P')
		pos := latlon(e, 5)
		sentence(&b, "GPGGA,%s,%s,1,%02d,%.2f,%.1f,M,%.1f,M,,", tm, pos, len(used), e.hdop, e.alt, e.sep)
		sentence(&b, "GPGSA,A,3,%s,%.2f,%.2f,%.2f", prnList(used), e.pdop, e.hdop, e.vdop)
		if i%5 == 2 {
			sentence(&b, "GPRMC,%s,A,%s,%.3f,%.2f,%s,,,A", tm, pos, knots(e.speed), e.course, date)
		}
	}
	return b.Bytes()
}

// hostile takes a clean log and damages it the ways a serial line does.
// Every damage is logged in a '#' comment just before it, so the log
// documents itself; about one sentence in six is damaged.
func hostile(clean []byte, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 2))
	lines := strings.Split(strings.TrimSuffix(string(clean), "\r\n"), "\r\n")
	// 50 cycles of the drive, from its start: enough to see every damage
	// several times, small enough to read.
	var keep []string
	cycles := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "$GNRMC") {
			cycles++
		}
		if cycles > 50 {
			break
		}
		keep = append(keep, l)
	}
	var b bytes.Buffer
	b.WriteString("# synthesised by gps/internal/nmeagen: the first 50 s of ublox-m8-drive.nmea, damaged\r\n")
	b.WriteString("\x00\x00\xff\xfe garbage from a wrong baud rate \x13\x8c\r\n")
	damages := []func(l string) string{
		func(l string) string {
			b.WriteString("# cut: unplugged mid-line, next sentence follows\r\n")
			return l[:len(l)/2]
		},
		func(l string) string { b.WriteString("# '$' mid-sentence\r\n"); return l[:len(l)/3] + l },
		func(l string) string {
			b.WriteString("# bad checksum\r\n")
			return l[:len(l)-2] + fmt.Sprintf("%02X", (hexval(l[len(l)-2:])+1)&0xff)
		},
		func(l string) string { b.WriteString("# missing checksum\r\n"); return l[:len(l)-3] },
		func(l string) string {
			b.WriteString("# flipped bit, checksum not updated\r\n")
			i := 7 + rng.IntN(len(l)-12)
			return l[:i] + string(l[i]^0x04) + l[i+1:]
		},
		func(l string) string {
			b.WriteString("# binary bytes inside\r\n")
			i := 7 + rng.IntN(len(l)-12)
			return l[:i] + "\xb5\x62\x01\x07" + l[i:]
		},
		func(l string) string {
			b.WriteString("# overlong line\r\n")
			return l[:len(l)-3] + strings.Repeat(",0", 60) + "*00"
		},
		func(l string) string {
			b.WriteString("# a UBX frame between sentences\r\n")
			return "\xb5\x62\x01\x07\x5c\x00\x24\x24GNGGA\x00\x13" + "\r\n" + l
		},
		func(l string) string { b.WriteString("# CR-only line end\r\n"); return l + "\r" },
		func(l string) string { b.WriteString("# LF-only line end\r\n"); return l + "\n" },
		func(l string) string {
			b.WriteString("# AIS sentence (ignored)\r\n")
			return "!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26\r\n" + l
		},
		func(l string) string { b.WriteString("# blank lines and spaces\r\n"); return "\r\n   \r\n" + l },
	}
	// Well framed, correct checksum, impossible content: a receiver bug or
	// a corrupted buffer upstream of the checksum.
	decodeDamage := func(l string) string {
		fields := strings.Split(l[1:len(l)-3], ",")
		idx := map[string]int{"GNRMC": 3, "GNGGA": 2, "GNGLL": 1}[fields[0]]
		if idx == 0 || len(fields[idx]) < 4 {
			return l
		}
		b.WriteString("# latitude minutes 61 with a correct checksum\r\n")
		fields[idx] = fields[idx][:2] + "61" + fields[idx][4:]
		return reframe(strings.Join(fields, ","))
	}
	for i, l := range keep {
		if i > 3 && rng.IntN(6) == 0 && strings.HasPrefix(l, "$") {
			if rng.IntN(len(damages)+1) == 0 {
				l = decodeDamage(l)
			} else {
				l = damages[rng.IntN(len(damages))](l)
			}
		}
		if strings.HasSuffix(l, "\r") || strings.HasSuffix(l, "\n") {
			b.WriteString(l)
		} else {
			b.WriteString(l + "\r\n")
		}
	}
	// The log ends the way an unplug does: in the middle of a sentence.
	b.WriteString("$GNRMC,061551.00,A,48")
	return b.Bytes()
}

func hexval(s string) int {
	var v int
	fmt.Sscanf(s, "%X", &v)
	return v
}

func reframe(body string) string {
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X", body, sum)
}
