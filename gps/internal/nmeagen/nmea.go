package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"time"
)

// Sentence framing and the field formats the receivers share.

// sentence frames a body as "$body*hh\r\n".
func sentence(b *bytes.Buffer, format string, args ...any) {
	b.WriteString(frame(fmt.Sprintf(format, args...)))
	b.WriteString("\r\n")
}

// frame is "$body*hh": body with its checksum.
func frame(body string) string {
	var sum byte
	for i := 0; i < len(body); i++ {
		sum ^= body[i]
	}
	return fmt.Sprintf("$%s*%02X", body, sum)
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
