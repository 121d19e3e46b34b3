package gps

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Hint says what is wrong with a serial receiver's input when nothing
// useful comes of it, in the words of names (the config keys or a
// command's flags), or "" when nothing is: an open port that has given
// nothing for 3 s, or bytes that never make a sentence (a wrong baud rate
// looks like that). baud is the rate the port was opened at.
func (s Stats) Hint(now time.Time, baud int, names SettingNames) string {
	n := names.or()
	good := s.Sentences + s.Ignored + s.Comments
	noise := s.Drops[DropGarbage] + s.Drops[DropBinary] + s.Drops[DropChecksum] + s.Drops[DropOverlong] +
		s.Drops[DropCut] + s.Drops[DropNoChecksum]
	switch {
	case IsGpsd(s.Device) || !s.Connected:
		return ""
	case s.SwitchErr != nil:
		return "the GNSS could not be turned on: " + s.SwitchErr.Error()
	case s.Bytes == 0 && now.Sub(s.Since) >= 3*time.Second:
		h := "nothing from the receiver: is it powered, and is " + s.Device + " its NMEA port?"
		if s.Switched == 0 {
			h += " A GNSS inside a cellular module streams only once turned on: set " + n.Commands + " and " + n.Control
		}
		return h
	case good == 0 && noise > 0 && s.Bytes >= 200:
		var others []string
		for _, b := range []int{9600, 4800, 38400, 115200} {
			if b != baud {
				others = append(others, strconv.Itoa(b))
			}
		}
		return fmt.Sprintf("%d bytes but not one NMEA sentence: a wrong baud rate? (%d now; receivers use 9600 most often, "+
			"4800 (old ones), 38400 (u-blox M9/M10), 115200 (fast rates); try %s %s)", s.Bytes, baud, n.Baud, strings.Join(others, ", "))
	}
	return ""
}
