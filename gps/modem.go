package gps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"go.bug.st/serial"
)

// Switch turns a receiver's NMEA output on and off. A GNSS inside a
// cellular module streams NMEA on one port only after a command on
// another, and stops again when the module resets; the Source calls On
// after every open of its device and Off when it stops.
type Switch interface {
	On(ctx context.Context) error
	Off(ctx context.Context) error
}

var _ Switch = (*Modem)(nil)

// ModemCommands are the AT commands that turn a module's GNSS on and off.
type ModemCommands struct {
	// Query, when set, asks the GNSS state first (AT+CGPS?): when an
	// answer line starts with QueryOn (+CGPS: 1) the GNSS is on, and On
	// (or, when it is off, Off) has nothing to do. It is what tells an
	// "already on" apart on modules that answer a second enable with a
	// bare ERROR.
	Query   string
	QueryOn string
	// Enable and Disable are sent in order; each must be answered OK or
	// with one of Already.
	Enable, Disable []string
	// Already are final answers that mean the GNSS is already in the
	// state asked for (Quectel: +CME ERROR: 504, "Session is ongoing").
	Already []string
}

// modemPresets are the module families whose commands we know, from their
// vendors' GNSS AT command manuals.
var modemPresets = map[string]ModemCommands{
	// Quectel EC2x, EG2x, EG9x, BG9x, EM05 (Qualcomm based): NMEA on the
	// "NMEA" USB port (the default outport, usbnmea). 504 Session is
	// ongoing / 505 Session not active are the numeric and verbose (CMEE=2)
	// forms of "already on" and "already off".
	"quectel": {
		Enable:  []string{"AT+QGPS=1"},
		Disable: []string{"AT+QGPSEND"},
		Already: []string{"+CME ERROR: 504", "+CME ERROR: Session is ongoing", "+CME ERROR: 505", "+CME ERROR: Session not active"},
	},
	// SIMCom SIM7100, SIM7500, SIM7600, SIM7906 (Qualcomm based): NMEA on
	// the "NMEA" USB port after AT+CGPS=1,1 (on, standalone mode). A second
	// enable is a bare ERROR, so the state is asked first.
	"simcom": {
		Query:   "AT+CGPS?",
		QueryOn: "+CGPS: 1",
		Enable:  []string{"AT+CGPS=1,1"},
		Disable: []string{"AT+CGPS=0"},
	},
}

// ModemPreset returns the commands of a module family by name.
func ModemPreset(name string) (ModemCommands, bool) {
	c, ok := modemPresets[name]
	return c, ok
}

// ModemPresets returns the names of the known module families, sorted.
func ModemPresets() []string {
	names := make([]string, 0, len(modemPresets))
	for n := range modemPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultModemTimeout bounds the wait for one command's answer: modules
// answer GNSS commands within a second or two, but a busy one can take
// several.
const DefaultModemTimeout = 5 * time.Second

// ErrNoAnswer is reported (in a *ModemError) when the control port gave no
// final answer to a command in time.
var ErrNoAnswer = errors.New("no answer")

// ErrRefused is reported (in a *ModemError) when the module answered a
// command with an error.
var ErrRefused = errors.New("refused")

// Modem turns the GNSS of a cellular module on and off through its AT
// control port. The port is opened for each sequence and closed after it,
// so that a module that resets and re-enumerates is found again, and
// nothing is held that ModemManager or a technician might need.
type Modem struct {
	Port     string // the AT port, e.g. /dev/ttyUSB2
	Baud     int    // 115200 when 0 (USB ports ignore it)
	Commands ModemCommands
	Timeout  time.Duration // per command; DefaultModemTimeout when 0
	// Names are what the errors' hints tell a technician to check;
	// ConfigNames when zero.
	Names SettingNames
}

// ModemError is a failed On or Off: the operation ("enable", "disable"),
// the port, the command being sent and the module's answer, if any.
type ModemError struct {
	Op      string
	Port    string
	Command string // "" when the port could not be opened
	Answer  string // the final answer, when there was one
	Err     error
	names   SettingNames
}

func (e *ModemError) Error() string {
	msg := "gps: " + e.Op + " GNSS on " + e.Port
	if e.Command != "" {
		msg += ": " + e.Command
	}
	msg += ": " + e.Err.Error()
	if e.Answer != "" {
		msg += " (" + e.Answer + ")"
	}
	if h := e.hint(); h != "" {
		msg += "; " + h
	}
	return msg
}

func (e *ModemError) Unwrap() error { return e.Err }

func (e *ModemError) hint() string {
	n := e.names.or()
	var pe *serial.PortError
	switch {
	case errors.Is(e.Err, fs.ErrNotExist) || errors.As(e.Err, &pe) && pe.Code() == serial.PortNotFound:
		return "is the modem up? check " + n.Control
	case errors.Is(e.Err, fs.ErrPermission) || errors.As(e.Err, &pe) && pe.Code() == serial.PermissionDenied:
		return "add the service user to group dialout"
	case errors.As(e.Err, &pe) && pe.Code() == serial.PortBusy:
		return "another program holds the port: give ModemManager another AT port, or tell it to leave this one alone"
	case errors.Is(e.Err, ErrNoAnswer) && e.Command == "AT":
		return "is " + n.Control + " the modem's AT port (not its NMEA or diagnostics port)?"
	case errors.Is(e.Err, ErrNoAnswer):
		return "the module is busy or resetting; retrying"
	case errors.Is(e.Err, ErrRefused):
		return "the module refused it: is " + n.Commands + " the right family for it (or are its commands)?"
	}
	return ""
}

// On turns the GNSS on: the state query when there is one, then each
// Enable command.
func (m *Modem) On(ctx context.Context) error {
	return m.run(ctx, "enable", m.Commands.Enable, true)
}

// Off turns the GNSS off.
func (m *Modem) Off(ctx context.Context) error {
	return m.run(ctx, "disable", m.Commands.Disable, false)
}

func (m *Modem) run(ctx context.Context, op string, cmds []string, on bool) error {
	fail := func(cmd, answer string, err error) error {
		return &ModemError{Op: op, Port: m.Port, Command: cmd, Answer: answer, Err: err, names: m.Names}
	}
	if len(cmds) == 0 {
		return nil
	}
	baud := m.Baud
	if baud == 0 {
		baud = 115200
	}
	port, err := serial.Open(m.Port, &serial.Mode{BaudRate: baud})
	if err != nil {
		return fail("", "", err)
	}
	defer port.Close()
	c := &atConn{port: port, timeout: m.Timeout}
	if c.timeout <= 0 {
		c.timeout = DefaultModemTimeout
	}
	if err := port.SetReadTimeout(atPoll); err != nil {
		return fail("", "", err)
	}
	// Answers queued before we opened (URCs such as RDY after a reset,
	// the tail of someone else's dialogue) are not ours.
	_ = port.ResetInputBuffer()

	// AT first: it shows that this is an AT port at all, and ends a line
	// that someone else left unfinished in the module (whose ERROR we
	// then pass over).
	for i := 0; ; i++ {
		final, _, err := c.command(ctx, "AT")
		if err != nil {
			return fail("AT", "", err)
		}
		if final == "OK" {
			break
		}
		if i == 1 {
			return fail("AT", final, ErrRefused)
		}
	}
	if q := m.Commands.Query; q != "" {
		final, lines, err := c.command(ctx, q)
		if err != nil {
			return fail(q, "", err)
		}
		if final == "OK" {
			isOn := slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, m.Commands.QueryOn) })
			if isOn == on {
				return nil
			}
		}
	}
	for _, cmd := range cmds {
		final, _, err := c.command(ctx, cmd)
		if err != nil {
			return fail(cmd, "", err)
		}
		if final != "OK" && !slices.Contains(m.Commands.Already, final) {
			return fail(cmd, final, ErrRefused)
		}
	}
	return nil
}

// atPoll is how often a wait for an answer looks at its context.
const atPoll = 50 * time.Millisecond

// maxATLine bounds a line of an answer; longer ones are cut.
const maxATLine = 512

// atConn is one AT dialogue on an open port.
type atConn struct {
	port    serial.Port
	timeout time.Duration
	buf     []byte // bytes read and not yet split into lines
	rd      [256]byte
}

// command sends cmd and returns its final result code and the lines
// before it (echo excluded). It writes the whole line before it looks at
// ctx: a command is never left half-written in the module, where it would
// spoil the next one.
func (c *atConn) command(ctx context.Context, cmd string) (final string, lines []string, err error) {
	if strings.ContainsAny(cmd, "\r\n") {
		return "", nil, fmt.Errorf("%q holds a line end", cmd)
	}
	if err := ctx.Err(); err != nil {
		return "", nil, err
	}
	line := []byte(cmd + "\r")
	for len(line) > 0 {
		n, err := c.port.Write(line)
		if err != nil {
			return "", nil, err
		}
		line = line[n:]
	}
	deadline := time.Now().Add(c.timeout)
	for {
		for {
			l, ok := c.next()
			if !ok {
				break
			}
			switch {
			case l == "" || l == cmd:
				// blank, or the module's echo of the command
			case isFinal(l):
				return l, lines, nil
			default:
				lines = append(lines, l)
			}
		}
		if err := ctx.Err(); err != nil {
			return "", lines, err
		}
		if time.Now().After(deadline) {
			return "", lines, fmt.Errorf("%w within %v", ErrNoAnswer, c.timeout)
		}
		n, err := c.port.Read(c.rd[:])
		if err != nil {
			return "", lines, err
		}
		c.buf = append(c.buf, c.rd[:n]...)
	}
}

// next returns the next complete line of the answer.
func (c *atConn) next() (string, bool) {
	i := bytes.IndexAny(c.buf, "\r\n")
	if i < 0 {
		if len(c.buf) > maxATLine {
			c.buf = c.buf[:0]
		}
		return "", false
	}
	l := strings.TrimSpace(string(c.buf[:i]))
	c.buf = c.buf[i+1:]
	return l, true
}

// isFinal reports whether an answer line ends a command (3GPP TS 27.007
// final result codes, and the few modules print instead).
func isFinal(l string) bool {
	switch l {
	case "OK", "ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "COMMAND NOT SUPPORT", "ABORTED":
		return true
	}
	return strings.HasPrefix(l, "+CME ERROR:") || strings.HasPrefix(l, "+CMS ERROR:")
}
