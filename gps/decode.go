package gps

import (
	"bytes"
	"math"
	"time"
)

// kind is a sentence type the decoder understands.
type kind uint8

const (
	kindNone kind = iota
	kindRMC
	kindGGA
	kindGSA
	kindVTG
	kindGNS
	kindGLL
	kindZDA
	kindGST
	numKinds
)

var kindNames = [numKinds]string{"", "RMC", "GGA", "GSA", "VTG", "GNS", "GLL", "ZDA", "GST"}

func (k kind) String() string { return kindNames[k] }

// maxFields bounds the fields looked at; the longest sentence we decode
// (GSA with a system ID) has 19 including the address.
const maxFields = 24

// fieldList is a sentence's body split at commas, as offsets (zeroing
// 24 slice headers per sentence showed in profiles).
type fieldList struct {
	body []byte
	end  [maxFields]uint8 // end of field i; it starts after end[i-1]'s comma
	n    int
}

// get returns field i, or nil when the sentence is shorter.
func (l *fieldList) get(i int) []byte {
	if i >= l.n {
		return nil
	}
	start := 0
	if i > 0 {
		start = int(l.end[i-1]) + 1
	}
	return l.body[start:l.end[i]]
}

func (l *fieldList) split(body []byte) {
	l.body = body
	for off := 0; l.n < maxFields; {
		i := bytes.IndexByte(body[off:], ',')
		if i < 0 {
			l.end[l.n] = uint8(len(body))
			l.n++
			return
		}
		l.end[l.n] = uint8(off + i)
		l.n++
		off += i + 1
	}
}

// validity is what one sentence says about the fix.
type validity int8

const (
	vNone validity = 0  // the sentence carries no validity flag
	vGood validity = 1  // every flag it carries says good
	vBad  validity = -1 // some flag says no fix / not valid
)

// and combines two flags of the same sentence.
func (v validity) and(o validity) validity {
	if v == vBad || o == vBad {
		return vBad
	}
	if v == vGood || o == vGood {
		return vGood
	}
	return vNone
}

// maxPRN bounds the satellites remembered from one GSA (NMEA allows 12).
const maxPRN = 12

// decoded is the content of one sentence. It carries values in a Fix, with
// Has marking the fields the sentence actually filled.
type decoded struct {
	kind   kind
	talker [2]byte
	tod    time.Duration
	hasTOD bool
	date   civil // RMC, ZDA
	fix    Fix
	valid  validity
	// GSA
	sys  uint8 // GNSS system of the PRNs: the NMEA 4.10 system ID, else from the talker
	prns [maxPRN]uint16
	nprn int
	// bad is the index of the first field that failed to decode, for tests
	// and the differential fuzzer to check why a sentence was refused.
	bad int
}

// decodeResult says what became of a sentence.
type decodeResult uint8

const (
	decOK      decodeResult = iota // d holds a sentence of a kind we use
	decIgnored                     // well-formed, of a type we do not use
	decDropped                     // broken; the reason is returned alongside
)

// knotsToMPS converts knots (international nautical miles per hour).
const knotsToMPS = 1852.0 / 3600.0

// decode decodes one sentence "$ttsss,...*hh" (a trailing CR/LF is allowed)
// into d. It checks the checksum itself, so that a Merger can be fed from
// anywhere, not only from a Scanner.
func decode(s []byte, d *decoded) (decodeResult, Reason) {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	if len(s) == 0 || s[0] != '$' {
		if len(s) > 0 && s[0] == '!' {
			return decIgnored, NumReasons
		}
		return decDropped, DropFraming
	}
	if len(s) > MaxSentence {
		return decDropped, DropOverlong
	}
	if r := checkFrame(s); r != NumReasons {
		return decDropped, r
	}
	body := s[1 : len(s)-3]
	addr := body
	if i := bytes.IndexByte(body, ','); i >= 0 {
		addr = body[:i]
	}
	if len(addr) > 0 && addr[0] == 'P' {
		return decIgnored, NumReasons // proprietary ($PUBX, $PMTK...): not ours to decode
	}
	if len(addr) != 5 {
		return decDropped, DropFraming
	}
	for _, c := range addr {
		if c < 'A' || c > 'Z' {
			return decDropped, DropFraming
		}
	}
	var k kind
	switch string(addr[2:]) {
	case "RMC":
		k = kindRMC
	case "GGA":
		k = kindGGA
	case "GSA":
		k = kindGSA
	case "VTG":
		k = kindVTG
	case "GNS":
		k = kindGNS
	case "GLL":
		k = kindGLL
	case "ZDA":
		k = kindZDA
	case "GST":
		k = kindGST
	default:
		return decIgnored, NumReasons
	}
	var l fieldList
	l.split(body)
	*d = decoded{kind: k, bad: -1}
	// Any talker: GP, GN, GL, GA, BD, GB, GQ, GI are the GNSS ones, but a
	// receiver behind a multiplexer may be relayed as II or IN, and the
	// sentence means the same.
	d.talker = [2]byte{addr[0], addr[1]}
	switch k {
	case kindRMC:
		d.decodeRMC(&l)
	case kindGGA:
		d.decodeGGA(&l)
	case kindGSA:
		d.decodeGSA(&l)
	case kindVTG:
		d.decodeVTG(&l)
	case kindGNS:
		d.decodeGNS(&l)
	case kindGLL:
		d.decodeGLL(&l)
	case kindZDA:
		d.decodeZDA(&l)
	case kindGST:
		d.decodeGST(&l)
	}
	if d.bad >= 0 {
		return decDropped, DropDecode
	}
	return decOK, NumReasons
}

// fail records the first bad field.
func (d *decoded) fail(i int) {
	if d.bad < 0 {
		d.bad = i
	}
}

// need fails the sentence if it has fewer than n fields (address included).
func (d *decoded) need(l *fieldList, n int) bool {
	if l.n < n {
		d.fail(l.n)
		return false
	}
	return true
}

func (d *decoded) time(l *fieldList, i int) {
	tod, present, ok := parseTOD(l.get(i))
	if !ok {
		d.fail(i)
	}
	d.tod, d.hasTOD = tod, present
}

// position reads latitude and longitude from fields i..i+3.
func (d *decoded) position(l *fieldList, i int) {
	lat, latOK, ok1 := parseCoord(l.get(i), l.get(i+1), 'N', 'S', 90)
	lon, lonOK, ok2 := parseCoord(l.get(i+2), l.get(i+3), 'E', 'W', 180)
	switch {
	case !ok1:
		d.fail(i)
	case !ok2:
		d.fail(i + 2)
	case latOK != lonOK:
		// Half a position is a damaged sentence, not a position.
		d.fail(i)
	case latOK:
		d.fix.Lat, d.fix.Lon = lat, lon
		d.fix.Has |= HasPosition
	}
}

// number reads an optional decimal into *dst and sets has when present.
func (d *decoded) number(l *fieldList, i int, signed bool, dst *float64, has Fields) {
	b := l.get(i)
	if len(b) == 0 {
		return
	}
	v, ok := parseDecimal(b, signed)
	if !ok {
		d.fail(i)
		return
	}
	*dst = v
	d.fix.Has |= has
}

func (d *decoded) sats(l *fieldList, i int) {
	b := l.get(i)
	if len(b) == 0 {
		return
	}
	n, ok := parseUint(b)
	if !ok || n > 999 {
		d.fail(i)
		return
	}
	d.fix.Sats = n
	d.fix.Has |= HasSats
}

func (d *decoded) course(l *fieldList, i int) {
	d.number(l, i, false, &d.fix.Course, HasCourse)
	if d.fix.Course > 360 {
		d.fail(i)
	}
	if d.fix.Course == 360 {
		d.fix.Course = 0
	}
}

// status reads an A/V status field.
func (d *decoded) status(l *fieldList, i int) validity {
	switch b := l.get(i); {
	case len(b) == 0:
		return vNone
	case len(b) == 1 && b[0] == 'A':
		return vGood
	case len(b) == 1 && b[0] == 'V':
		return vBad
	}
	d.fail(i)
	return vNone
}

// faaModes are the NMEA 2.3 mode indicator letters: Autonomous,
// Differential, Estimated, Float RTK, Manual, Not valid, Precise, Real time
// kinematic, Simulator.
const faaModes = "ADEFMNPRS"

// modeIndicator reads the NMEA 2.3+ mode field of RMC, GLL and VTG (absent
// in older receivers' sentences). N means the data are not valid.
func (d *decoded) modeIndicator(l *fieldList, i int) validity {
	b := l.get(i)
	if len(b) == 0 {
		return vNone
	}
	if len(b) != 1 || !isFAAMode(b[0]) {
		d.fail(i)
		return vNone
	}
	if b[0] == 'N' {
		return vBad
	}
	return vGood
}

func isFAAMode(c byte) bool {
	for i := 0; i < len(faaModes); i++ {
		if faaModes[i] == c {
			return true
		}
	}
	return false
}

// $--RMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a,m,s*hh
// (time, status, lat, N/S, lon, E/W, speed knots, course true, date,
// magnetic variation, E/W, mode 2.3+, navigational status 4.1+)
func (d *decoded) decodeRMC(l *fieldList) {
	if !d.need(l, 10) {
		return
	}
	d.time(l, 1)
	d.valid = d.status(l, 2)
	d.position(l, 3)
	var knots float64
	d.number(l, 7, false, &knots, HasSpeed)
	d.fix.Speed = knots * knotsToMPS
	d.course(l, 8)
	date, present, ok := parseDDMMYY(l.get(9))
	if !ok {
		d.fail(9)
	}
	if present {
		d.date = date
	}
	d.valid = d.valid.and(d.modeIndicator(l, 12))
}

// $--GGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,x.x,x.x,M,x.x,M,x.x,xxxx*hh
// (time, lat, N/S, lon, E/W, quality, sats used, HDOP, altitude MSL, M,
// geoid separation, M, DGPS age, DGPS station)
func (d *decoded) decodeGGA(l *fieldList) {
	if !d.need(l, 10) {
		return
	}
	d.time(l, 1)
	d.position(l, 2)
	switch q := l.get(6); {
	case len(q) == 0:
	case len(q) == 1 && q[0] >= '0' && q[0] <= '8':
		d.fix.Quality = q[0] - '0'
		d.fix.Has |= HasQuality
		// 1 GPS, 2 DGPS, 3 PPS, 4 RTK fixed, 5 RTK float are fixes; 0 is
		// none and 6 (dead reckoning), 7 (manual), 8 (simulator) are not a
		// measured position.
		if d.fix.Quality >= 1 && d.fix.Quality <= 5 {
			d.valid = vGood
		} else {
			d.valid = vBad
		}
	default:
		d.fail(6)
	}
	d.sats(l, 7)
	d.number(l, 8, false, &d.fix.HDOP, HasHDOP)
	d.number(l, 9, true, &d.fix.Alt, HasAltitude)
}

// $--GSA,a,x,xx,xx,xx,xx,xx,xx,xx,xx,xx,xx,xx,xx,x.x,x.x,x.x,h*hh
// (selection mode, fix type 1/2/3, 12 PRNs used, PDOP, HDOP, VDOP, system
// ID in NMEA 4.10+)
func (d *decoded) decodeGSA(l *fieldList) {
	if !d.need(l, 18) {
		return
	}
	switch t := l.get(2); {
	case len(t) == 0:
	case len(t) == 1 && t[0] >= '1' && t[0] <= '3':
		d.fix.Mode = Mode(t[0] - '0')
		d.fix.Has |= HasMode
		if d.fix.Mode >= Mode2D {
			d.valid = vGood
		} else {
			d.valid = vBad
		}
	default:
		d.fail(2)
	}
	for i := 3; i <= 14; i++ {
		b := l.get(i)
		if len(b) == 0 {
			continue
		}
		prn, ok := parseUint(b)
		if !ok || prn == 0 || prn > 999 {
			d.fail(i)
			continue
		}
		d.prns[d.nprn] = uint16(prn)
		d.nprn++
	}
	d.number(l, 15, false, &d.fix.PDOP, HasPDOP)
	d.number(l, 16, false, &d.fix.HDOP, HasHDOP)
	d.number(l, 17, false, &d.fix.VDOP, HasVDOP)
	d.sys = talkerSystem(d.talker)
	if b := l.get(18); len(b) > 0 {
		v, ok := unhex(b[0])
		if len(b) != 1 || !ok || v == 0 {
			d.fail(18)
		}
		d.sys = v
	}
}

// talkerSystem maps a talker to the NMEA 4.10 GNSS system ID, so that PRNs
// from GSAs with and without a system ID field can be told apart. GN (the
// combined solution) maps to 0: its PRNs are numbered in disjoint ranges.
func talkerSystem(t [2]byte) uint8 {
	switch string(t[:]) {
	case "GP":
		return 1
	case "GL":
		return 2
	case "GA":
		return 3
	case "BD", "GB":
		return 4
	case "GQ":
		return 5
	case "GI":
		return 6
	}
	return 0
}

// $--VTG,x.x,T,x.x,M,x.x,N,x.x,K,m*hh
// (course true, T, course magnetic, M, speed knots, N, speed km/h, K, mode)
func (d *decoded) decodeVTG(l *fieldList) {
	if !d.need(l, 8) {
		return
	}
	d.course(l, 1)
	var knots, kmh float64
	d.number(l, 5, false, &knots, HasSpeed)
	if d.fix.Has&HasSpeed != 0 {
		d.fix.Speed = knots * knotsToMPS
	} else {
		d.number(l, 7, false, &kmh, HasSpeed)
		d.fix.Speed = kmh / 3.6
	}
	d.valid = d.modeIndicator(l, 9)
}

// $--GNS,hhmmss.ss,llll.ll,a,yyyyy.yy,a,c--c,xx,x.x,x.x,x.x,x.x,x.x,s*hh
// (time, lat, N/S, lon, E/W, mode per constellation, sats used, HDOP,
// altitude MSL, geoid separation, DGPS age, DGPS station, nav status 4.1+)
func (d *decoded) decodeGNS(l *fieldList) {
	if !d.need(l, 10) {
		return
	}
	d.time(l, 1)
	d.position(l, 2)
	// One mode letter per constellation (GPS, GLONASS, Galileo, BeiDou...).
	// The position is valid when any constellation contributes to it: "AAN"
	// is a good GPS+GLONASS fix on a receiver that sees no Galileo.
	if m := l.get(6); len(m) > 0 {
		d.valid = vBad
		for i, c := range m {
			if !isFAAMode(c) || i >= 8 {
				d.fail(6)
				break
			}
			if c != 'N' {
				d.valid = vGood
			}
		}
	}
	d.sats(l, 7)
	d.number(l, 8, false, &d.fix.HDOP, HasHDOP)
	d.number(l, 9, true, &d.fix.Alt, HasAltitude)
}

// $--GLL,llll.ll,a,yyyyy.yy,a,hhmmss.ss,A,m*hh
// (lat, N/S, lon, E/W, time, status, mode 2.3+)
func (d *decoded) decodeGLL(l *fieldList) {
	if !d.need(l, 7) {
		return
	}
	d.position(l, 1)
	d.time(l, 5)
	d.valid = d.status(l, 6).and(d.modeIndicator(l, 7))
}

// $--ZDA,hhmmss.ss,dd,mm,yyyy,zh,zm*hh
func (d *decoded) decodeZDA(l *fieldList) {
	if !d.need(l, 5) {
		return
	}
	d.time(l, 1)
	dd, mm, yy := l.get(2), l.get(3), l.get(4)
	if len(dd) == 0 && len(mm) == 0 && len(yy) == 0 {
		return
	}
	day, ok1 := parseUint(dd)
	mon, ok2 := parseUint(mm)
	year, ok3 := parseUint(yy)
	if !ok1 || !ok2 || !ok3 || len(yy) != 4 {
		d.fail(2)
		return
	}
	c, ok := makeCivil(year, mon, day)
	if !ok {
		d.fail(2)
		return
	}
	d.date = c
}

// $--GST,hhmmss.ss,x.x,x.x,x.x,x.x,x.x,x.x,x.x*hh
// (time, RMS of the pseudorange residuals, error ellipse semi-major and
// semi-minor axis (m), orientation of the semi-major axis (degrees true),
// standard deviation of latitude, longitude and altitude (m))
//
// The horizontal error is the root of the sum of the squares of the
// latitude and longitude deviations (DRMS: the radius within which the
// position lies with about 63-68 % probability); a receiver that gives only
// the ellipse has the same DRMS in its axes. All zeros, or nothing, is a
// receiver that does not estimate its error (some fill the sentence with
// zeros): not reported.
func (d *decoded) decodeGST(l *fieldList) {
	if !d.need(l, 9) {
		return
	}
	d.time(l, 1)
	for i := 2; i <= 8; i++ {
		d.value(l, i) // every field must be a number or empty
	}
	if o, ok := d.value(l, 5); ok && o > 360 {
		d.fail(5)
	}
	var acc float64
	lat, ok1 := d.value(l, 6)
	lon, ok2 := d.value(l, 7)
	major, ok3 := d.value(l, 3)
	minor, ok4 := d.value(l, 4)
	switch {
	case ok1 && ok2:
		acc = math.Hypot(lat, lon)
	case ok3 && ok4:
		acc = math.Hypot(major, minor)
	}
	if acc > 0 && !math.IsInf(acc, 0) {
		d.fix.Accuracy = acc
		d.fix.Has |= HasAccuracy | HasGST
	}
}

// value reads an optional non-negative decimal; ok says it was there and
// good (a malformed one fails the sentence).
func (d *decoded) value(l *fieldList, i int) (v float64, ok bool) {
	b := l.get(i)
	if len(b) == 0 {
		return 0, false
	}
	v, ok = parseDecimal(b, false)
	if !ok {
		d.fail(i)
	}
	return v, ok
}
