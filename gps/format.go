package gps

import "strconv"

// jsonTime is RFC 3339 in UTC with milliseconds, as gpsd writes TPV time.
const jsonTime = "2006-01-02T15:04:05.000Z07:00"

// AppendJSON appends f as one JSON object, without a newline, and returns
// the extended buffer. The keys, each present only when known, are
// time (RFC 3339 UTC, milliseconds; only with a date), lat, lon (degrees),
// alt (m MSL), speed (m/s), course (degrees true), mode (1 no fix, 2 2D,
// 3 3D), sats (used), hdop and accuracy (metres, Fix.Accuracy). Like gpsd's TPV, the position, speed and
// course are written only for a valid fix and the altitude only for a 3D
// one, so that nobody plots a position the receiver said was not valid.
//
// It allocates nothing when dst has room: replaying a log to JSON is
// bounded by decoding, not by formatting.
func (f *Fix) AppendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	first := true
	key := func(k string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, '"', ':')
	}
	if f.Is(HasTime | HasDate) {
		key("time")
		dst = append(dst, '"')
		dst = f.Time.UTC().AppendFormat(dst, jsonTime)
		dst = append(dst, '"')
	}
	if f.Valid && f.Is(HasPosition) {
		key("lat")
		dst = strconv.AppendFloat(dst, f.Lat, 'f', 9, 64)
		key("lon")
		dst = strconv.AppendFloat(dst, f.Lon, 'f', 9, 64)
	}
	if f.Valid && f.Mode == Mode3D && f.Is(HasAltitude) {
		key("alt")
		dst = strconv.AppendFloat(dst, f.Alt, 'f', 3, 64)
	}
	if f.Valid && f.Is(HasSpeed) {
		key("speed")
		dst = strconv.AppendFloat(dst, f.Speed, 'f', 3, 64)
	}
	if f.Valid && f.Is(HasCourse) {
		key("course")
		dst = strconv.AppendFloat(dst, f.Course, 'f', 3, 64)
	}
	if f.Is(HasMode) {
		key("mode")
		dst = strconv.AppendInt(dst, int64(f.Mode), 10)
	}
	if f.Is(HasSats) {
		key("sats")
		dst = strconv.AppendInt(dst, int64(f.Sats), 10)
	}
	if f.Is(HasHDOP) {
		key("hdop")
		dst = strconv.AppendFloat(dst, f.HDOP, 'f', 2, 64)
	}
	if f.Valid && f.Is(HasAccuracy) {
		key("accuracy")
		dst = strconv.AppendFloat(dst, f.Accuracy, 'f', 2, 64)
	}
	return append(dst, '}')
}

// AppendText appends f as one compact human-readable line (no newline):
//
//	2024-11-19T06:17:41.000Z 3D 48.1173000 11.5166667 545.4m 11.52m/s 84.4° 8sats hdop 0.90 ±4.5m
//
// A time without a known date is written as its time of day only; fields
// the cycle did not report are left out.
func (f *Fix) AppendText(dst []byte) []byte {
	switch {
	case f.Is(HasTime | HasDate):
		dst = f.Time.UTC().AppendFormat(dst, jsonTime)
	case f.Is(HasTime):
		dst = f.Time.AppendFormat(dst, "15:04:05.000")
	default:
		dst = append(dst, "--:--:--"...)
	}
	dst = append(dst, ' ')
	dst = append(dst, f.Mode.String()...)
	if f.Is(HasPosition) {
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, f.Lat, 'f', 7, 64)
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, f.Lon, 'f', 7, 64)
	}
	if f.Is(HasAltitude) {
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, f.Alt, 'f', 1, 64)
		dst = append(dst, 'm')
	}
	if f.Is(HasSpeed) {
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, f.Speed, 'f', 2, 64)
		dst = append(dst, "m/s"...)
	}
	if f.Is(HasCourse) {
		dst = append(dst, ' ')
		dst = strconv.AppendFloat(dst, f.Course, 'f', 1, 64)
		dst = append(dst, "°"...)
	}
	if f.Is(HasSats) {
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(f.Sats), 10)
		dst = append(dst, "sats"...)
	}
	if f.Is(HasHDOP) {
		dst = append(dst, " hdop "...)
		dst = strconv.AppendFloat(dst, f.HDOP, 'f', 2, 64)
	}
	if f.Valid && f.Is(HasAccuracy) {
		dst = append(dst, " ±"...)
		dst = strconv.AppendFloat(dst, f.Accuracy, 'f', 1, 64)
		dst = append(dst, 'm')
	}
	if !f.Valid && f.Is(HasPosition) {
		dst = append(dst, " (not valid)"...)
	}
	return dst
}

// String returns f as AppendText writes it.
func (f Fix) String() string { return string(f.AppendText(nil)) }
