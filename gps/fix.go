// Package gps turns the byte stream of a GNSS receiver's serial port into fixes:
// it splits NMEA 0183 sentences out of noise, decodes the ones that carry a
// position or its error (RMC, GGA, GSA, VTG, GNS, GLL, GST from any talker),
// merges each reporting cycle into one Fix, and keeps the serial device open
// across unplugging and re-enumeration. A GNSS inside a cellular module is
// turned on through the module's AT port (Modem, a Switch); a receiver that
// gpsd owns is read from gpsd's JSON watch (Source.Device gpsd://host).
package gps

import "time"

// Mode is the receiver's fix dimension, numbered as NMEA GSA and gpsd TPV do.
// A Fix has Mode2D or Mode3D exactly when it is Valid; the dimension comes
// from GSA when the cycle has one, else from GGA/GNS (an altitude makes 3D).
type Mode uint8

const (
	ModeUnknown Mode = 0 // no sentence in the cycle said
	ModeNoFix   Mode = 1
	Mode2D      Mode = 2
	Mode3D      Mode = 3
)

func (m Mode) String() string {
	switch m {
	case ModeNoFix:
		return "no fix"
	case Mode2D:
		return "2D"
	case Mode3D:
		return "3D"
	}
	return "unknown"
}

// Fields records which values of a Fix a cycle's sentences actually provided,
// so that a zero can be told apart from "not reported" without pointers
// (a Fix is passed by value on the hot path and must not allocate).
type Fields uint16

const (
	HasTime     Fields = 1 << iota // UTC time of day; with a date from RMC the full time
	HasDate                        // Time carries a calendar date (from RMC)
	HasPosition                    // Lat and Lon
	HasAltitude                    // Alt (metres above mean sea level)
	HasSpeed                       // Speed over ground
	HasCourse                      // Course over ground, degrees true
	HasMode                        // Mode
	HasQuality                     // Quality (GGA fix quality)
	HasSats                        // Sats (satellites used in the solution)
	HasHDOP
	HasPDOP
	HasVDOP
	HasAccuracy // Accuracy
	// HasGST: Accuracy is the receiver's own estimate, from GST; without
	// it, Accuracy is HDOP × UERE.
	HasGST
)

// UERE is the user equivalent range error, in metres (1σ), that turns HDOP
// into an estimated horizontal error when the receiver does not send GST:
// the horizontal error's DRMS is HDOP × UERE. 5 m is the typical budget of
// a single-frequency civil receiver without corrections (satellite clock
// and orbit, ionosphere, troposphere, multipath and receiver noise); a
// receiver with SBAS or multi-frequency does better, which is why GST, where
// the receiver sends it, wins.
const UERE = 5.0

// Fix is one merged reporting cycle of the receiver.
type Fix struct {
	Time   time.Time // UTC
	Lat    float64   // degrees, north positive
	Lon    float64   // degrees, east positive
	Alt    float64   // metres above mean sea level
	Speed  float64   // metres per second over ground
	Course float64   // degrees true, [0, 360)
	HDOP   float64
	PDOP   float64
	VDOP   float64
	// Accuracy is the estimated horizontal error of a valid fix, in metres:
	// the radius within which the true position lies with about 63-68 %
	// probability (DRMS, like Android's Location.getAccuracy). From the
	// receiver's GST when the cycle has one (HasGST), else HDOP × UERE.
	// Double it for 95 %.
	Accuracy float64
	Sats     int   // satellites used in the solution
	Quality  uint8 // GGA fix quality: 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 estimated
	Mode     Mode
	Has      Fields
	// Valid is true only when every sentence of the cycle that carries a
	// validity flag says the fix is good: RMC/GLL status A, GGA quality 1..5,
	// GSA mode 2 or 3, GNS/RMC/VTG/GLL mode indicator not N (for GNS, whose
	// indicator has one letter per constellation: not all N). A cycle without
	// any such sentence, or without a position, is not valid. Mode is 2D or
	// 3D exactly when Valid is true.
	Valid bool
}

// Is reports whether all of the given fields are present.
func (f *Fix) Is(fields Fields) bool { return f.Has&fields == fields }
