package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/gps"
)

// GPSModem is a GNSS inside the cellular module (Quectel EC2x/EG25,
// SIMCom SIM7600, …): its NMEA port (gps.device) streams only after an AT
// command on the module's control port, and stops when the module resets.
// The agent sends the enable commands after every open of gps.device
// (so also after a silence of gps.silence_timeout, and after a reset that
// re-enumerated the ports) and the disable commands when it stops.
type GPSModem struct {
	// Type is the module family whose commands are used: quectel, simcom,
	// or custom (then Enable is required). Empty: not a modem GNSS.
	Type string `yaml:"type"`
	// Control is the module's AT port, e.g. /dev/ttyUSB2: not its NMEA
	// port, and not one ModemManager holds.
	Control string `yaml:"control"`
	// Enable and Disable replace the family's commands; each must be
	// answered OK or with one of Already.
	Enable  []string `yaml:"enable"`
	Disable []string `yaml:"disable"`
	// Already replaces the family's answers that mean "already on" or
	// "already off" (e.g. "+CME ERROR: 504").
	Already []string `yaml:"already"`
	// Query and QueryOn replace the family's state query: when an answer
	// to Query starts with QueryOn, the GNSS is on and is not enabled
	// again (for modules that answer a second enable with a bare ERROR).
	Query   string `yaml:"query"`
	QueryOn string `yaml:"query_on"`
	// Timeout bounds the wait for one command's answer.
	Timeout Duration `yaml:"timeout"`
}

// Commands are the family's commands with the file's replacements.
func (m *GPSModem) Commands() gps.ModemCommands {
	c, _ := gps.ModemPreset(m.Type)
	if m.Enable != nil {
		c.Enable = m.Enable
	}
	if m.Disable != nil {
		c.Disable = m.Disable
	}
	if m.Already != nil {
		c.Already = m.Already
	}
	if m.Query != "" {
		c.Query, c.QueryOn = m.Query, m.QueryOn
	}
	return c
}

func (c *Config) validateGPS(v *validation) {
	g := &c.GPS
	switch {
	case g.Device == "":
		v.err("gps.device", "required: the receiver's serial device, e.g. /dev/ttyUSB0 or /dev/serial/by-id/…, or gpsd://localhost to read gpsd")
	case gps.IsGpsd(g.Device):
		if _, _, err := gps.ParseGpsd(g.Device); err != nil {
			v.err("gps.device", "%s: %v", g.Device, err)
		}
	default:
		v.serialPort("gps.device", g.Device)
	}
	if !contains(standardBauds, g.Baud) {
		v.err("gps.baud", "%d is not a standard rate; use one of %s (most receivers: 9600)", g.Baud, joinInts(standardBauds))
	}
	v.between("gps.silence_timeout", g.SilenceTimeout, time.Second, time.Hour)

	m := &g.Modem
	families := append(gps.ModemPresets(), "custom")
	switch {
	case m.Type == "":
		if m.Control != "" || m.Enable != nil || m.Disable != nil || m.Query != "" {
			v.warn("gps.modem", "ignored without gps.modem.type (%s)", strings.Join(families, ", "))
		}
		return
	case !slices.Contains(families, m.Type):
		v.err("gps.modem.type", "%q is not a module family we know; use %s (custom: write gps.modem.enable yourself)", m.Type, strings.Join(families, ", "))
	case gps.IsGpsd(g.Device):
		v.err("gps.modem.type", "gpsd owns the receiver with gps.device %s: turn the module's GNSS on outside the agent, or point gps.device at the module's NMEA port", g.Device)
	}
	switch {
	case m.Control == "":
		v.err("gps.modem.control", "required with gps.modem.type: the module's AT port, e.g. /dev/ttyUSB2")
	case m.Control == g.Device:
		v.err("gps.modem.control", "%s is gps.device, the NMEA port; the control port is the module's AT port (e.g. /dev/ttyUSB2)", m.Control)
	default:
		v.serialPort("gps.modem.control", m.Control)
	}
	if m.Type == "custom" && len(m.Enable) == 0 {
		v.err("gps.modem.enable", "required with gps.modem.type custom: the AT commands that turn the GNSS on, e.g. [\"AT+QGPS=1\"]")
	}
	for key, list := range map[string][]string{"gps.modem.enable": m.Enable, "gps.modem.disable": m.Disable} {
		for i, cmd := range list {
			v.atCommand(key+"["+strconv.Itoa(i)+"]", cmd)
		}
	}
	if m.Query != "" {
		v.atCommand("gps.modem.query", m.Query)
	}
	if (m.Query == "") != (m.QueryOn == "") {
		v.err("gps.modem.query", "query and query_on go together: the command that asks the state and the start of its answer when on (e.g. AT+CGPS? and \"+CGPS: 1\")")
	}
	v.between("gps.modem.timeout", m.Timeout, 100*time.Millisecond, time.Minute)
}

// serialPort warns about a serial device that is not there now or is not
// a character device; the agent keeps trying to open it.
func (v *validation) serialPort(key, path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		// The receiver may be unplugged at boot; the agent waits for it.
		hint := ""
		if dev := "/dev/" + filepath.Base(path); dev != path {
			if _, err := os.Stat(dev); err == nil {
				hint = "; did you mean " + dev + "?"
			}
		}
		v.warn(key, "%s is not there now (%v); the agent will keep trying to open it%s", path, unwrapPath(err), hint)
	case fi.Mode()&fs.ModeCharDevice == 0:
		// A link to a character device (/dev/serial/by-id/…) is followed.
		v.warn(key, "%s is %s, not a serial port (a character device): the agent will keep failing to open it as one", path, describeFile(fi.Mode()))
	}
}

// atCommand checks one command line for the module: AT and printable
// ASCII, so that it cannot end early or run into the next one.
func (v *validation) atCommand(key, cmd string) {
	if len(cmd) < 2 || !strings.EqualFold(cmd[:2], "AT") || len(cmd) > 256 {
		v.err(key, "%q is not an AT command (AT…, at most 256 characters)", cmd)
		return
	}
	for _, r := range cmd {
		if r < 0x20 || r > 0x7e {
			v.err(key, "%q holds a control or non-ASCII character: one command per list item, without line ends", cmd)
			return
		}
	}
}
