package main

import (
	"bytes"
	"fmt"
)

// One writer per receiver family: each writes the epochs the way its
// documentation says the receiver does.

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

// ubloxM8Fast writes a u-blox NEO-M8 at its 10 Hz maximum for a single
// GNSS (GPS only, so the talker is GP), with GST enabled as a tracker
// configures it: RMC, VTG, GGA, GSA, GST and GLL every cycle, the GSV
// group once a second; time to 2 decimals on the tenth of a second. Like
// the M8, GST leaves the error ellipse empty and gives the standard
// deviations of latitude, longitude and altitude (metres, 1 decimal);
// without a fix it leaves them empty too.
func ubloxM8Fast(eps []epoch, hz int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# synthesised by gps/internal/nmeagen: u-blox NEO-M8 style at %d Hz, GPS only, with GST\r\n", hz)
	for i := range eps {
		e := &eps[i]
		e.sats = of(e.sats, 'P')
		used := e.used('P')
		mode := e.mode
		if len(used) < 3 {
			mode = 1
		}
		tm, date := hhmmss(e.t, 2), e.t.Format("020106")
		pos, status, faa := ",,,", "V", "N"
		if mode >= 2 {
			pos, status, faa = latlon(e, 5), "A", "A"
		}
		spd, crs, kmh := "", "", ""
		if mode >= 2 {
			spd = fmt.Sprintf("%.3f", knots(e.speed))
			kmh = fmt.Sprintf("%.3f", e.speed*3.6)
			if e.speed > 0.5 {
				crs = fmt.Sprintf("%.2f", e.course)
			}
		}
		sentence(&b, "GPRMC,%s,%s,%s,%s,%s,%s,,,%s", tm, status, pos, spd, crs, date, faa)
		sentence(&b, "GPVTG,%s,T,,M,%s,N,%s,K,%s", crs, spd, kmh, faa)
		q, alt, sep := 0, "", ""
		if mode >= 2 {
			q, alt, sep = 1, fmt.Sprintf("%.1f", e.alt), fmt.Sprintf("%.1f", e.sep)
		}
		if mode < 2 {
			used = nil
		}
		sentence(&b, "GPGGA,%s,%s,%d,%02d,%.2f,%s,M,%s,M,,", tm, pos, q, len(used), e.hdop, alt, sep)
		sentence(&b, "GPGSA,A,%d,%s,%.2f,%.2f,%.2f", mode, prnList(used), e.pdop, e.hdop, e.vdop)
		if mode >= 2 {
			sentence(&b, "GPGST,%s,%.1f,,,,%.1f,%.1f,%.1f", tm, e.noise*e.pdop*1.4,
				e.noise*e.hdop*1.1, e.noise*e.hdop*0.9, e.noise*e.vdop*1.2)
		} else {
			sentence(&b, "GPGST,%s,,,,,,,", tm)
		}
		if i%hz == 0 {
			gsv(&b, "GP", e.sats, -1)
		}
		sentence(&b, "GPGLL,%s,%s,%s,%s", pos, tm, status, faa)
	}
	return b.Bytes()
}
