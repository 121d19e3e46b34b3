package gps

import (
	"strconv"
	"time"
)

// NMEA numbers are plain decimals: digits, at most one '.', a '-' only where
// a value can be negative (altitude, geoid separation). The parsers here
// accept exactly that and nothing else that strconv would take ("+1", "1e3",
// "Inf", "0x1p3", "1_0"), because in a GNSS sentence such text is corruption,
// not a number. They work on []byte so decoding allocates nothing.

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseUint parses a non-empty string of decimal digits with at most 9
// significant ones (field values in NMEA are small: counts, PRNs, dates).
func parseUint(b []byte) (int, bool) {
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseDecimal parses [-]digits[.digits] (or [-].digits, digits.) into the
// float64 nearest to its exact value, the same value strconv.ParseFloat
// returns. signed says whether a leading '-' is allowed.
func parseDecimal(b []byte, signed bool) (float64, bool) {
	neg := false
	i := 0
	if len(b) > 0 && b[0] == '-' && signed {
		neg = true
		i = 1
	}
	var mant uint64
	digits, fracDigits := 0, 0
	dot := false
	exact := true // mant holds all digits without overflow
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if dot {
				fracDigits++
			}
			if mant > (1<<63)/10 {
				exact = false
				continue
			}
			mant = mant*10 + uint64(c-'0')
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	// Clinger's fast path: when the digits fit a float64 mantissa exactly and
	// the scale is an exact power of ten, one correctly rounded division
	// gives the correctly rounded result. NMEA fields always take this path.
	if exact && mant <= 1<<53 && fracDigits < len(pow10) {
		f := float64(mant) / pow10[fracDigits]
		if neg {
			f = -f
		}
		return f, true
	}
	// Long or very precise fields: let strconv do the hard case. The syntax
	// was checked above, so this cannot fail, and the conversion of a short
	// non-escaping []byte to string does not allocate.
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// parseCoord parses an NMEA coordinate "dddmm.mmmm" with its hemisphere
// letter into signed degrees. pos and neg are the hemisphere letters ('N',
// 'S' or 'E', 'W'); limit is 90 or 180. Minutes must be below 60.
// Both fields empty means "not reported" (ok, present false).
func parseCoord(v, hemi []byte, pos, neg byte, limit int) (deg float64, present, ok bool) {
	if len(v) == 0 && len(hemi) == 0 {
		return 0, false, true
	}
	if len(v) == 0 || len(hemi) != 1 || (hemi[0] != pos && hemi[0] != neg) {
		return 0, false, false
	}
	// The last two digits before the '.' are minutes, the ones before them
	// degrees.
	dot := len(v)
	for i, c := range v {
		if c == '.' {
			dot = i
			break
		}
	}
	split := max(dot-2, 0)
	d := 0
	if split > 0 {
		var good bool
		if d, good = parseUint(v[:split]); !good {
			return 0, false, false
		}
	}
	m, good := parseDecimal(v[split:], false)
	if !good || m >= 60 || d > limit || (d == limit && m > 0) {
		return 0, false, false
	}
	deg = float64(d) + m/60
	if hemi[0] == neg {
		deg = -deg
	}
	return deg, true, true
}

// parseTOD parses a UTC time of day "hhmmss[.sss]" into a duration since
// midnight. Fractions beyond nanoseconds are truncated. Second 60 is allowed
// for a leap second. Empty means "not reported".
func parseTOD(b []byte) (tod time.Duration, present, ok bool) {
	if len(b) == 0 {
		return 0, false, true
	}
	if len(b) < 6 || (len(b) > 6 && b[6] != '.') {
		return 0, false, false
	}
	h, ok1 := parseUint(b[0:2])
	m, ok2 := parseUint(b[2:4])
	s, ok3 := parseUint(b[4:6])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 {
		return 0, false, false
	}
	var ns int64
	scale := int64(1e8)
	for _, c := range b[min(len(b), 7):] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		ns += int64(c-'0') * scale
		scale /= 10
	}
	tod = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(ns)
	return tod, true, true
}

// civil is a calendar date.
type civil struct {
	y    int
	m    time.Month
	d    int
	good bool
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// makeCivil checks a date; years before 1980 (the start of GPS time) are
// impossible for a receiver and mean corruption.
func makeCivil(y, m, d int) (civil, bool) {
	if y < 1980 || y > 2200 || m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return civil{}, false
	}
	return civil{y: y, m: time.Month(m), d: d, good: true}, true
}

// parseDDMMYY parses RMC's date. Two-digit years 80..99 are 19yy and
// 00..79 are 20yy: no receiver reports a date before GPS time began in 1980
// (the classic NMEA examples from the 1990s decode as such), and this holds
// until 2080.
func parseDDMMYY(b []byte) (c civil, present, ok bool) {
	if len(b) == 0 {
		return civil{}, false, true
	}
	if len(b) != 6 {
		return civil{}, false, false
	}
	d, ok1 := parseUint(b[0:2])
	m, ok2 := parseUint(b[2:4])
	y, ok3 := parseUint(b[4:6])
	if !ok1 || !ok2 || !ok3 {
		return civil{}, false, false
	}
	if y < 80 {
		y += 2000
	} else {
		y += 1900
	}
	c, ok = makeCivil(y, m, d)
	return c, ok, ok
}

// next returns the day after c.
func (c civil) next() civil {
	c.d++
	if c.d > daysIn(c.m, c.y) {
		c.d = 1
		c.m++
		if c.m > time.December {
			c.m = time.January
			c.y++
		}
	}
	return c
}

// at returns the instant tod after midnight UTC of c.
func (c civil) at(tod time.Duration) time.Time {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Add(tod)
}

// prev returns the day before c.
func (c civil) prev() civil {
	c.d--
	if c.d < 1 {
		c.m--
		if c.m < time.January {
			c.m = time.December
			c.y--
		}
		c.d = daysIn(c.m, c.y)
	}
	return c
}
