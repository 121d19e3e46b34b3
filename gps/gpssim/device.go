// Package gpssim is a GNSS receiver without hardware, for `pttagent gps
// simulate`, benches and tests: a real pseudo-terminal that gps.Source
// opens like a USB serial port, which can be unplugged and plugged back,
// and a Player that writes an NMEA log into it in real time. It ships in
// the agent's binary, so it must not import package testing (the test
// helpers built on it are in gps/gpstest).
package gpssim

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ErrUnplugged is returned by Write while the device is unplugged.
var ErrUnplugged = errors.New("gpssim: device unplugged")

// Device is a pseudo-terminal whose slave side is linked at Path, the way
// udev links /dev/serial/by-id/... to /dev/ttyACM0. Writing to the Device
// is the receiver talking.
type Device struct {
	// Path is the symlink the reader opens.
	Path string

	// Lossy makes Write drop what the reader cannot take instead of
	// blocking, the way a receiver's UART talks whether or not anyone
	// listens. Set it before the first Write.
	Lossy bool

	mu      sync.Mutex
	master  *os.File
	slave   *os.File // held open so the tty keeps its settings between opens
	dropped atomic.Uint64
}

// NewDevice creates a pty and links its slave at path (replacing a stale
// link left by a crashed run).
func NewDevice(path string) (*Device, error) {
	d := &Device{Path: path}
	if err := d.plug(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Device) plug() error {
	master, slave, err := pty.Open()
	if err != nil {
		return fmt.Errorf("gpstest: open pty: %w", err)
	}
	if master, err = pollable(master); err != nil {
		slave.Close()
		return fmt.Errorf("gpstest: open pty: %w", err)
	}
	// Raw mode from the start: bytes written before the reader opens the
	// port (and sets raw mode itself) must not be echoed back or have CR
	// turned into LF by the line discipline.
	if err := makeRaw(slave); err != nil {
		master.Close()
		slave.Close()
		return fmt.Errorf("gpstest: raw mode on %s: %w", slave.Name(), err)
	}
	if err := os.Remove(d.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		master.Close()
		slave.Close()
		return fmt.Errorf("gpstest: replace %s: %w", d.Path, err)
	}
	if err := os.Symlink(slave.Name(), d.Path); err != nil {
		master.Close()
		slave.Close()
		return fmt.Errorf("gpstest: link %s: %w", d.Path, err)
	}
	d.mu.Lock()
	d.master, d.slave = master, slave
	d.mu.Unlock()
	return nil
}

// pollable returns f as a File in Go's poller. pty.Open leaves the master
// in blocking mode, where a Write blocked on a full buffer can neither time
// out nor be interrupted by Close, so Unplug would not hang up the tty.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Name returns the pty's real slave path (/dev/pts/N).
func (d *Device) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.slave == nil {
		return ""
	}
	return d.slave.Name()
}

// Write sends bytes as the receiver would. It blocks while the reader's
// buffer is full, and fails with ErrUnplugged while unplugged.
func (d *Device) Write(p []byte) (int, error) {
	d.mu.Lock()
	m := d.master
	d.mu.Unlock()
	if m == nil {
		return 0, ErrUnplugged
	}
	if d.Lossy {
		m.SetWriteDeadline(time.Now().Add(lossyWait))
	}
	n, err := m.Write(p)
	switch {
	case errors.Is(err, os.ErrClosed):
		err = ErrUnplugged
	case d.Lossy && errors.Is(err, os.ErrDeadlineExceeded):
		d.dropped.Add(uint64(len(p) - n))
		n, err = len(p), nil
	}
	return n, err
}

// lossyWait is how long a Lossy write waits for room: a reader that is
// there catches up in far less.
const lossyWait = 50 * time.Millisecond

// Dropped returns how many bytes a Lossy device has thrown away.
func (d *Device) Dropped() uint64 { return d.dropped.Load() }

// Read returns what the reader wrote into the port (a modem's control
// port reads commands this way). It fails with ErrUnplugged while
// unplugged, and with os.ErrDeadlineExceeded after SetReadDeadline's time.
func (d *Device) Read(p []byte) (int, error) {
	d.mu.Lock()
	m := d.master
	d.mu.Unlock()
	if m == nil {
		return 0, ErrUnplugged
	}
	n, err := m.Read(p)
	if errors.Is(err, os.ErrClosed) {
		err = ErrUnplugged
	}
	return n, err
}

// SetReadDeadline bounds the Reads of the device as it is now plugged.
func (d *Device) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	m := d.master
	d.mu.Unlock()
	if m == nil {
		return ErrUnplugged
	}
	return m.SetReadDeadline(t)
}

// WriteString is Write for a string.
func (d *Device) WriteString(s string) (int, error) { return d.Write([]byte(s)) }

// Unplug does what pulling a USB receiver does: the open port fails (EIO
// or "Port has been closed") and the device path disappears, so opening it
// fails with ENOENT until Replug.
func (d *Device) Unplug() error {
	d.mu.Lock()
	m, s := d.master, d.slave
	d.master, d.slave = nil, nil
	d.mu.Unlock()
	if m == nil {
		return nil
	}
	err := errors.Join(m.Close(), s.Close())
	if rerr := os.Remove(d.Path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// Replug brings the device back at the same path, as a new pty: like a
// re-enumerated USB device it is a different tty behind the same name.
func (d *Device) Replug() error {
	d.mu.Lock()
	plugged := d.master != nil
	d.mu.Unlock()
	if plugged {
		return nil
	}
	return d.plug()
}

// Plugged reports whether the device is present.
func (d *Device) Plugged() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.master != nil
}

// Close unplugs the device for good and removes the link.
func (d *Device) Close() error { return d.Unplug() }
