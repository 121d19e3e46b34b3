package gpssim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Modem is a cellular module with a GNSS inside, as Quectel and SIMCom
// make them: an AT control port and an NMEA port, two ptys. The GNSS
// streams NMEA on its port only after the family's enable command on the
// control port, stops on the disable command, and is off again after
// Reset, as after a module reset.
type Modem struct {
	Control *Device // the AT port
	NMEA    *Device // the NMEA port; Lossy, like the module's
	Family  string  // "quectel" or "simcom"

	mu       sync.Mutex
	on       bool
	echo     bool
	verbose  bool // AT+CMEE=2: errors in words
	mute     bool
	delay    time.Duration
	received []string
	enables  int
}

// NewModem creates the two ports of a module of the given family,
// linked at controlPath and nmeaPath, with its GNSS off.
func NewModem(controlPath, nmeaPath, family string) (*Modem, error) {
	if family != "quectel" && family != "simcom" {
		return nil, fmt.Errorf("gpssim: no modem family %q (quectel, simcom)", family)
	}
	ctl, err := NewDevice(controlPath)
	if err != nil {
		return nil, err
	}
	nmea, err := NewDevice(nmeaPath)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	// Like the module's UARTs: what nobody reads is lost, not queued.
	ctl.Lossy, nmea.Lossy = true, true
	return &Modem{Control: ctl, NMEA: nmea, Family: family, echo: true}, nil
}

// Run answers AT commands on the control port and plays log into the NMEA
// port while the GNSS is on (with p's pacing; p should Loop and Retime, as
// a receiver's output is endless and current), until ctx is done.
func (m *Modem) Run(ctx context.Context, p *Player, log []byte) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Play(ctx, gnssOutput{m}, log)
	}()
	defer wg.Wait()
	var line []byte
	buf := make([]byte, 256)
	for ctx.Err() == nil {
		m.Control.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := m.Control.Read(buf)
		switch {
		case errors.Is(err, ErrUnplugged):
			line = line[:0]
			time.Sleep(20 * time.Millisecond)
			continue
		case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		}
		for _, b := range buf[:n] {
			switch b {
			case '\r':
				m.command(string(line))
				line = line[:0]
			case '\n':
			default:
				if len(line) < 1024 {
					line = append(line, b)
				}
			}
		}
	}
	return ctx.Err()
}

// gnssOutput is the NMEA port as the GNSS writes it: nothing comes out
// while the GNSS is off or the port is away.
type gnssOutput struct{ m *Modem }

func (g gnssOutput) Write(p []byte) (int, error) {
	if !g.m.On() {
		return len(p), nil
	}
	if _, err := g.m.NMEA.Write(p); err != nil && !errors.Is(err, ErrUnplugged) {
		return 0, err
	}
	return len(p), nil
}

// command answers one command line, as the family's firmware does.
func (m *Modem) command(raw string) {
	cmd := strings.ToUpper(strings.TrimSpace(raw))
	m.mu.Lock()
	if m.mute || cmd == "" {
		m.mu.Unlock()
		return
	}
	m.received = append(m.received, strings.TrimSpace(raw))
	var out bytes.Buffer
	if m.echo {
		out.WriteString(raw + "\r")
	}
	answer := func(lines ...string) {
		for _, l := range lines {
			out.WriteString("\r\n" + l + "\r\n")
		}
	}
	cme := func(code int, words string) string {
		if m.verbose {
			return "+CME ERROR: " + words
		}
		return fmt.Sprintf("+CME ERROR: %d", code)
	}
	switch {
	case cmd == "AT":
		answer("OK")
	case cmd == "ATE0" || cmd == "ATE1":
		m.echo = cmd == "ATE1"
		answer("OK")
	case cmd == "AT+CMEE=2" || cmd == "AT+CMEE=1":
		m.verbose = cmd == "AT+CMEE=2"
		answer("OK")
	case m.Family == "quectel" && cmd == "AT+QGPS?":
		answer(fmt.Sprintf("+QGPS: %d", b2i(m.on)), "OK")
	case m.Family == "quectel" && cmd == "AT+QGPS=1":
		if m.on {
			answer(cme(504, "Session is ongoing"))
		} else {
			m.on = true
			m.enables++
			answer("OK")
		}
	case m.Family == "quectel" && cmd == "AT+QGPSEND":
		if !m.on {
			answer(cme(505, "Session not active"))
		} else {
			m.on = false
			answer("OK")
		}
	case m.Family == "simcom" && cmd == "AT+CGPS?":
		answer(fmt.Sprintf("+CGPS: %d,1", b2i(m.on)), "OK")
	case m.Family == "simcom" && (cmd == "AT+CGPS=1,1" || cmd == "AT+CGPS=1"):
		if m.on {
			answer("ERROR")
		} else {
			m.on = true
			m.enables++
			answer("OK")
		}
	case m.Family == "simcom" && cmd == "AT+CGPS=0":
		if !m.on {
			answer("ERROR")
		} else {
			m.on = false
			// The module reports the end of the session unsolicited.
			answer("OK", "+CGPS: 0")
		}
	default:
		answer("ERROR")
	}
	delay := m.delay
	m.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	m.Control.Write(out.Bytes())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// On reports whether the GNSS is on.
func (m *Modem) On() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.on
}

// Enables counts the commands that turned the GNSS on.
func (m *Modem) Enables() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enables
}

// Received returns the commands received so far, in order.
func (m *Modem) Received() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.received)
}

// SetMute makes the control port swallow commands without an answer, as
// a port that is not an AT port (or a hung module) does.
func (m *Modem) SetMute(mute bool) {
	m.mu.Lock()
	m.mute = mute
	m.mu.Unlock()
}

// SetDelay makes every answer come this late (a busy module).
func (m *Modem) SetDelay(d time.Duration) {
	m.mu.Lock()
	m.delay = d
	m.mu.Unlock()
}

// Reset does what a module reset does: the GNSS is off, echo and error
// words back to their defaults, and "RDY" on the control port. With
// reenumerate, both ports also vanish and come back as new ttys at the
// same paths, as the module's USB interfaces do.
func (m *Modem) Reset(reenumerate bool) error {
	m.mu.Lock()
	m.on, m.echo, m.verbose = false, true, false
	m.mu.Unlock()
	if reenumerate {
		if err := errors.Join(m.Control.Unplug(), m.NMEA.Unplug()); err != nil {
			return err
		}
		// USB takes a moment to enumerate the interfaces again.
		time.Sleep(200 * time.Millisecond)
		if err := errors.Join(m.Control.Replug(), m.NMEA.Replug()); err != nil {
			return err
		}
	}
	_, err := m.Control.WriteString("\r\nRDY\r\n")
	return err
}

// Close removes both ports.
func (m *Modem) Close() error { return errors.Join(m.Control.Close(), m.NMEA.Close()) }
