package board

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Evdev reads keys from a Linux input device (/dev/input/eventN) — the
// gpio-keys driver, a keypad matrix, a USB or Bluetooth PTT button.
//
// It reads struct input_event records directly with a blocking read on the
// device (the kernel wakes us at each edge; nothing polls). A library was
// considered: github.com/holoplot/go-evdev is not served by the module
// proxy here, and it opens devices with ioctls that fail on anything but a
// real device, which would leave its reading untestable without uinput
// (not available on the CI machines). The record is a stable kernel ABI of
// four fields, so reading it ourselves is short and lets the tests feed a
// pipe of real records.
type Evdev struct {
	// Path is the device, preferably a stable /dev/input/by-path/… link.
	Path string
	// Codes maps kernel key codes (linux/input-event-codes.h, e.g. 0x3b
	// KEY_F1, 0x73 KEY_VOLUMEUP) to what the key does.
	Codes map[uint16]KeyName
	// Grab takes the device for this reader alone (EVIOCGRAB) so that
	// presses do not also reach a console or another program.
	Grab bool
	// Retry is how long to wait before reopening a vanished device
	// (default 2 s).
	Retry  time.Duration
	Logger *slog.Logger
}

var _ Key = (*Evdev)(nil)

// Kernel input ABI (linux/input.h, linux/input-event-codes.h).
const (
	evSyn        = 0x00
	evKey        = 0x01
	synReport    = 0
	synDropped   = 3
	keyCodeLimit = 0x300 // KEY_MAX+1
	// _IOW('E', 0x90, int) and _IOR('E', 0x18, [96]byte).
	eviocgrab = 0x40044590
	eviocgkey = 0x80000000 | (keyCodeLimit/8)<<16 | 'E'<<8 | 0x18
)

// inputEventSize is sizeof(struct input_event): a struct timeval then
// type, code (uint16) and value (int32) — 24 bytes on 64-bit kernels, 16 on
// 32-bit ones.
var inputEventSize = int(unsafe.Sizeof(unix.Timeval{})) + 8

// Run implements Key. It reopens the device Retry after it fails and
// reports held keys released when the device vanishes.
func (e *Evdev) Run(ctx context.Context, events chan<- KeyEvent) error {
	if len(e.Codes) == 0 {
		return &DeviceError{Op: "configure", Device: e.Path, Err: errors.New("no key codes")}
	}
	retry := e.Retry
	if retry <= 0 {
		retry = 2 * time.Second
	}
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	failing := false
	for {
		err := e.session(ctx, events)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !failing {
			log.Warn("key device failed; retrying", "device", e.Path, "err", err, "every", retry)
			failing = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retry):
		}
	}
}

// session reads one opening of the device until it fails or ctx ends.
func (e *Evdev) session(ctx context.Context, events chan<- KeyEvent) error {
	f, err := os.Open(e.Path)
	if err != nil {
		return &DeviceError{Op: "open", Device: e.Path, Err: err}
	}
	stop := context.AfterFunc(ctx, func() { f.Close() }) // unblocks Read
	defer func() {
		if stop() {
			f.Close()
		}
	}()
	r := &evdevReader{codes: e.Codes, held: map[KeyName]bool{}}
	if sc, err := f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) {
			if e.Grab {
				// ENOTTY: not an input device (a test's pipe); nothing to grab.
				if err := unix.IoctlSetInt(int(fd), eviocgrab, 1); err != nil && !errors.Is(err, unix.ENOTTY) && !errors.Is(err, unix.EINVAL) {
					e.logger().Warn("cannot grab key device; presses also reach other readers", "device", e.Path, "err", err)
				}
			}
			r.fd = int(fd)
		})
	}
	// A key already held when we open (the agent restarted mid-press).
	r.resync(time.Now(), func(ev KeyEvent) { send(ctx, events, ev) })
	err = r.read(f, func(ev KeyEvent) { send(ctx, events, ev) })
	r.releaseAll(time.Now(), func(ev KeyEvent) { send(ctx, events, ev) })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &DeviceError{Op: "read", Device: e.Path, Err: err}
}

func (e *Evdev) logger() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

func send(ctx context.Context, events chan<- KeyEvent, ev KeyEvent) {
	select {
	case events <- ev:
	case <-ctx.Done():
	}
}

// evdevReader turns input_event records into key edges.
type evdevReader struct {
	codes   map[uint16]KeyName
	held    map[KeyName]bool
	fd      int  // for EVIOCGKEY; 0 = not a device
	dropped bool // SYN_DROPPED seen: skip to the next SYN_REPORT, then resync
}

// read decodes records until r fails. io.EOF (a closed pipe) is an error
// too: a real device never ends.
func (d *evdevReader) read(r io.Reader, emit func(KeyEvent)) error {
	buf := make([]byte, 64*inputEventSize)
	have := 0
	for {
		n, err := r.Read(buf[have:])
		have += n
		whole := have - have%inputEventSize
		for off := 0; off < whole; off += inputEventSize {
			d.record(buf[off:off+inputEventSize], emit)
		}
		have = copy(buf, buf[whole:have])
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

func (d *evdevReader) record(rec []byte, emit func(KeyEvent)) {
	tv := len(rec) - 8
	var sec, usec int64
	if tv == 16 {
		sec, usec = int64(binary.NativeEndian.Uint64(rec)), int64(binary.NativeEndian.Uint64(rec[8:]))
	} else {
		sec, usec = int64(int32(binary.NativeEndian.Uint32(rec))), int64(int32(binary.NativeEndian.Uint32(rec[4:])))
	}
	typ := binary.NativeEndian.Uint16(rec[tv:])
	code := binary.NativeEndian.Uint16(rec[tv+2:])
	value := int32(binary.NativeEndian.Uint32(rec[tv+4:]))
	at := time.Unix(sec, usec*1000)
	switch {
	case typ == evSyn && code == synDropped:
		// The kernel's buffer overflowed: edges were lost. What follows up
		// to the next SYN_REPORT is incomplete.
		d.dropped = true
	case typ == evSyn && code == synReport && d.dropped:
		d.dropped = false
		d.resync(at, emit)
	case d.dropped:
	case typ == evKey:
		name, ok := d.codes[code]
		if !ok || value == 2 { // 2 = autorepeat
			return
		}
		down := value != 0
		if d.held[name] == down {
			return
		}
		d.held[name] = down
		emit(KeyEvent{Key: name, Down: down, Time: at})
	}
}

// resync asks the kernel which keys are down (EVIOCGKEY) and reports the
// differences; without a device (a pipe) it can only release everything it
// thought held, which is the safe direction for a PTT key.
func (d *evdevReader) resync(at time.Time, emit func(KeyEvent)) {
	var bits [keyCodeLimit / 8]byte
	ok := false
	if d.fd > 0 {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(d.fd), eviocgkey, uintptr(unsafe.Pointer(&bits[0])))
		ok = errno == 0
	}
	for code, name := range d.codes {
		down := ok && int(code) < keyCodeLimit && bits[code/8]&(1<<(code%8)) != 0
		if d.held[name] != down {
			d.held[name] = down
			emit(KeyEvent{Key: name, Down: down, Time: at})
		}
	}
}

func (d *evdevReader) releaseAll(at time.Time, emit func(KeyEvent)) {
	for name, down := range d.held {
		if down {
			d.held[name] = false
			emit(KeyEvent{Key: name, Down: false, Time: at})
		}
	}
}

// AppendInputEvent appends one struct input_event in this machine's
// layout: what the kernel would deliver. Tests and the bench use it.
func AppendInputEvent(dst []byte, at time.Time, typ, code uint16, value int32) []byte {
	if inputEventSize == 24 {
		dst = binary.NativeEndian.AppendUint64(dst, uint64(at.Unix()))
		dst = binary.NativeEndian.AppendUint64(dst, uint64(at.Nanosecond()/1000))
	} else {
		dst = binary.NativeEndian.AppendUint32(dst, uint32(at.Unix()))
		dst = binary.NativeEndian.AppendUint32(dst, uint32(at.Nanosecond()/1000))
	}
	dst = binary.NativeEndian.AppendUint16(dst, typ)
	dst = binary.NativeEndian.AppendUint16(dst, code)
	return binary.NativeEndian.AppendUint32(dst, uint32(value))
}

// ParseKeyCode reads a key code as the config writes it: a number (decimal
// or 0x…) or a KEY_ name of the codes a handset uses.
func ParseKeyCode(s string) (uint16, error) {
	if c, ok := keyNames[s]; ok {
		return c, nil
	}
	var n uint
	if _, err := fmt.Sscan(s, &n); err != nil || n >= keyCodeLimit {
		return 0, fmt.Errorf("key code %q: use a number below 0x300 or one of KEY_F1…KEY_F12, KEY_VOLUMEUP, KEY_VOLUMEDOWN, KEY_UP, KEY_DOWN, KEY_PROG1…KEY_PROG4, BTN_0…BTN_3, KEY_SPACE, KEY_ENTER", s)
	}
	return uint16(n), nil
}

var keyNames = map[string]uint16{
	"KEY_ENTER": 28, "KEY_SPACE": 57,
	"KEY_F1": 59, "KEY_F2": 60, "KEY_F3": 61, "KEY_F4": 62, "KEY_F5": 63, "KEY_F6": 64,
	"KEY_F7": 65, "KEY_F8": 66, "KEY_F9": 67, "KEY_F10": 68, "KEY_F11": 87, "KEY_F12": 88,
	"KEY_UP": 103, "KEY_DOWN": 108, "KEY_VOLUMEDOWN": 114, "KEY_VOLUMEUP": 115,
	"KEY_PROG1": 148, "KEY_PROG2": 149, "KEY_PROG3": 202, "KEY_PROG4": 203,
	"BTN_0": 0x100, "BTN_1": 0x101, "BTN_2": 0x102, "BTN_3": 0x103,
}
