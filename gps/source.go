package gps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// Defaults of Source.
const (
	DefaultBaud           = 9600
	DefaultSilenceTimeout = 5 * time.Second
)

// Reopen backoff: fast enough that a replugged module is back within a
// couple of seconds, slow enough not to spin on a port that is gone (gpsd
// retries every 2 s).
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// ErrSilent is reported (wrapped in a *DeviceError) when the port stays
// open but delivers nothing for the SilenceTimeout: a USB module that
// re-enumerated can leave the old descriptor open and dead.
var ErrSilent = errors.New("no data from the receiver")

// DeviceError is a failure of the serial device, with what we were doing
// (Op: "open", "read") and on which device. It unwraps to the underlying
// error and, where one applies, to fs.ErrNotExist or fs.ErrPermission, so
// callers can decide with errors.Is without knowing the serial library.
type DeviceError struct {
	Op     string
	Device string
	Err    error
	names  SettingNames
}

// SettingNames are the settings a hint tells a technician to check: the
// agent's config keys (ConfigNames), or a command's own flags.
type SettingNames struct {
	Device, Baud, Control, Commands string
}

// ConfigNames are the agent's config keys.
var ConfigNames = SettingNames{Device: "gps.device", Baud: "gps.baud", Control: "gps.modem.control", Commands: "gps.modem.type"}

func (n SettingNames) or() SettingNames {
	if n == (SettingNames{}) {
		return ConfigNames
	}
	return n
}

func (e *DeviceError) Error() string {
	msg := "gps: " + e.Op + " " + e.Device + ": " + e.Err.Error()
	if h := e.hint(); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

func (e *DeviceError) Unwrap() []error {
	errs := []error{e.Err}
	if k := e.kind(); k != nil {
		errs = append(errs, k)
	}
	return errs
}

// kind translates the serial library's error codes, which do not unwrap to
// the errno, into the standard sentinels.
func (e *DeviceError) kind() error {
	var pe *serial.PortError
	if errors.As(e.Err, &pe) {
		switch pe.Code() {
		case serial.PermissionDenied:
			return fs.ErrPermission
		case serial.PortNotFound:
			return fs.ErrNotExist
		}
	}
	return nil
}

// hint says what a technician can do about the error.
func (e *DeviceError) hint() string {
	n := e.names.or()
	var pe *serial.PortError
	switch {
	case IsGpsd(e.Device):
		return gpsdHint(e.Err, n)
	case errors.Is(e.Err, fs.ErrNotExist) || errors.Is(e.kind(), fs.ErrNotExist):
		return "is the receiver plugged in? check " + n.Device
	case errors.Is(e.Err, fs.ErrPermission) || errors.Is(e.kind(), fs.ErrPermission):
		return "add the service user to group dialout"
	case errors.As(e.Err, &pe) && pe.Code() == serial.PortBusy:
		return "another program has the port open: stop gpsd or ModemManager, or give it another device"
	case errors.As(e.Err, &pe) && pe.Code() == serial.InvalidSerialPort, errors.Is(e.Err, syscall.EISDIR):
		return n.Device + " is not a serial port"
	case errors.As(e.Err, &pe) && pe.Code() == serial.InvalidSpeed:
		return "check " + n.Baud
	case errors.Is(e.Err, ErrSilent) && errors.As(e.Err, new(*ModemError)):
		return "the module's GNSS is not on; reopening and enabling it again"
	case errors.Is(e.Err, ErrSilent):
		return "check " + n.Baud + " and the receiver's power; reopening"
	}
	return ""
}

// Source reads fixes from a GNSS receiver on a serial port and keeps the
// port open across unplugging, re-enumeration and silence; or, with a
// Device gpsd://host[:port], from gpsd, reconnecting when gpsd restarts.
type Source struct {
	// Device is a serial device, e.g. /dev/ttyACM0 or a /dev/serial/by-id/
	// link, or gpsd://host[:port][/device] (port 2947 by default; the
	// device, when given, is the one of gpsd's that is watched).
	Device         string
	Baud           int           // DefaultBaud when 0
	Logger         *slog.Logger  // slog.Default() when nil
	SilenceTimeout time.Duration // DefaultSilenceTimeout when 0
	// OnSentence, when set, is called synchronously with every good
	// sentence before it is decoded (diagnostics: `gps watch` shows the
	// satellites in view from GSV this way). It must not retain the slice
	// and must return quickly.
	OnSentence func(sentence []byte)
	// OnState, when set, is called from Run when the receiver is opened
	// (true, nil), and when it is lost or cannot be opened (false, the
	// *DeviceError; an open error only when it differs from the last
	// one): the agent's health follows the receiver this way, without
	// polling Stats. It must return quickly.
	OnState func(connected bool, err error)
	// Switch, when set, turns the receiver's output on after every open
	// of the device (a GNSS in a cellular modem: see Modem) and off when
	// Run returns. Not used with gpsd, which owns its receiver.
	Switch Switch
	// OnSatellites, when set, is called with the satellites of every gpsd
	// SKY report (diagnostics, as OnSentence is for NMEA). It must not
	// retain the slice.
	OnSatellites func([]Satellite)
	// Names are what the errors' hints tell a technician to check;
	// ConfigNames when zero.
	Names SettingNames

	mu    sync.Mutex
	stats Stats
	// Counted outside mu: bytes as they arrive, dropped fixes by the
	// delivering goroutine.
	bytes   atomic.Uint64
	dropped *atomic.Uint64
}

// Stats is a snapshot of a Source.
type Stats struct {
	Device    string
	Connected bool
	Since     time.Time // when Connected last changed, or Run started
	// LastErr is the last open or read error, kept while disconnected and
	// cleared when the device is open again.
	LastErr     error
	Opens       uint64 // successful opens
	Disconnects uint64 // losses of an open device (read error, silence)
	Bytes       uint64 // bytes read
	Counters           // sentences, drops by reason, fixes
	// FixesDropped counts fixes dropped because the consumer had not taken
	// them before four newer ones arrived.
	FixesDropped uint64
	LastFix      Fix
	LastFixAt    time.Time // when LastFix was completed; has a monotonic reading
	// Switched counts the times the Switch turned the receiver on (or
	// found it on); SwitchErr is its last failure, cleared by a success.
	Switched  uint64
	SwitchErr error
}

// FixMaxAge is how long a valid fix stands for the handset's position:
// "the receiver has a fix" means a valid fix no older than this, for
// status, health and the voice prompts alike. A 1 Hz receiver may miss
// four cycles before its fix is lost.
const FixMaxAge = 5 * time.Second

// HasFix reports whether the receiver has a fix at now: its last fix is
// valid and no older than FixMaxAge. A receiver without sky still
// completes a cycle every second; only a valid one counts.
func (s Stats) HasFix(now time.Time) bool {
	return s.LastFix.Valid && !s.LastFixAt.IsZero() && now.Sub(s.LastFixAt) < FixMaxAge
}

// Stats returns a snapshot; it is safe to call concurrently with Run.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	if st.Device == "" {
		st.Device = s.Device
	}
	st.Bytes = s.bytes.Load()
	if s.dropped != nil {
		st.FixesDropped = s.dropped.Load()
	}
	return st
}

func (s *Source) state(connected bool, err error) {
	if s.OnState != nil {
		s.OnState(connected, err)
	}
}

func (s *Source) update(f func(st *Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Run reads the device until ctx is done and sends each completed cycle on
// fixes, in order. It never blocks on a slow consumer: it keeps the newest
// four fixes not yet taken and drops older ones (Stats.FixesDropped). A
// device that cannot be opened, fails or falls silent is reopened with
// backoff (100 ms doubling to 2 s), forever; the log says so once per
// change of state, not per attempt. Run returns ctx's error, or at once an
// error if Device is empty or not a valid gpsd:// address.
func (s *Source) Run(ctx context.Context, fixes chan<- Fix) error {
	if s.Device == "" {
		return &DeviceError{Op: "open", Device: `""`, Err: errors.New("no device configured (gps.device)"), names: s.Names}
	}
	silence := s.SilenceTimeout
	if silence <= 0 {
		silence = DefaultSilenceTimeout
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("device", s.Device)
	var open func(context.Context) (link, error)
	var what string
	if IsGpsd(s.Device) {
		addr, dev, err := ParseGpsd(s.Device)
		if err != nil {
			return &DeviceError{Op: "open", Device: s.Device, Err: err, names: s.Names}
		}
		what = "gpsd"
		open = func(ctx context.Context) (link, error) { return s.dialGpsd(ctx, addr, dev, silence) }
	} else {
		baud := s.Baud
		if baud == 0 {
			baud = DefaultBaud
		}
		what = "receiver"
		log = log.With("baud", baud)
		sc := NewScanner(nil)
		var m Merger
		open = func(context.Context) (link, error) { return s.openSerial(baud, silence, sc, &m) }
	}
	s.update(func(st *Stats) { *st = Stats{Device: s.Device, Since: time.Now()} })

	d := newDeliverer()
	s.mu.Lock()
	s.dropped = &d.dropped
	s.mu.Unlock()
	s.bytes.Store(0)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.run(ctx, fixes)
	}()
	defer wg.Wait()
	if s.Switch != nil && what == "receiver" {
		defer s.switchOff(ctx, log)
	}

	var (
		backoff   = minBackoff
		everOpen  bool
		lostAt    time.Time
		lastFault string // the open error last logged, to log each kind once
	)
	for {
		l, err := open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			derr := &DeviceError{Op: "open", Device: s.Device, Err: err, names: s.Names}
			s.update(func(st *Stats) { st.LastErr = derr })
			if msg := derr.Error(); msg != lastFault {
				log.Warn("gps: cannot open "+what, "err", derr)
				lastFault = msg
				s.state(false, derr)
			}
			if !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		lastFault = ""
		now := time.Now()
		if everOpen {
			log.Info("gps: "+what+" back", "down", now.Sub(lostAt).Round(time.Millisecond))
		} else {
			log.Info("gps: " + what + " opened")
		}
		everOpen = true
		s.update(func(st *Stats) {
			st.Connected, st.Since, st.LastErr = true, now, nil
			st.Opens++
		})
		s.state(true, nil)
		var switchErr error
		if s.Switch != nil && what == "receiver" {
			switchErr = s.switchOn(ctx, log)
		}

		got, err := l.read(ctx, d)
		l.close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrSilent) && switchErr != nil {
			// Silence after a failed enable: say why.
			err = fmt.Errorf("%w; %w", err, switchErr)
		}
		lostAt = time.Now()
		derr := &DeviceError{Op: "read", Device: s.Device, Err: err, names: s.Names}
		log.Warn("gps: "+what+" lost", "err", derr)
		lastFault = ""
		s.update(func(st *Stats) {
			st.Connected, st.Since, st.LastErr = false, lostAt, derr
			st.Disconnects++
		})
		s.state(false, derr)
		if got {
			backoff = minBackoff
		}
		// Even a device that worked waits a little: a disappearing USB
		// device often still opens for a moment and fails again.
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// link is one open connection to the receiver: a serial port or gpsd.
type link interface {
	// read delivers the receiver's fixes until an error; got says whether
	// anything arrived.
	read(ctx context.Context, d *deliverer) (got bool, err error)
	close()
}

// switchOn turns the receiver's output on, logging a failure once per
// kind; the read that follows goes ahead either way (a module whose GNSS
// was already on streams all the same).
func (s *Source) switchOn(ctx context.Context, log *slog.Logger) error {
	err := s.Switch.On(ctx)
	var prev error
	s.update(func(st *Stats) {
		prev = st.SwitchErr
		st.SwitchErr = err
		if err == nil {
			st.Switched++
		}
	})
	switch {
	case err != nil && (prev == nil || prev.Error() != err.Error()):
		log.Warn("gps: cannot turn the GNSS on", "err", err)
	case err == nil && prev != nil:
		log.Info("gps: GNSS on again")
	}
	return err
}

// switchOff turns the receiver's output off as Run returns: the context
// is done by then, so it has a bound of its own.
func (s *Source) switchOff(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*DefaultModemTimeout)
	defer cancel()
	if err := s.Switch.Off(ctx); err != nil {
		log.Warn("gps: cannot turn the GNSS off", "err", err)
	}
}

// serialLink is an open serial port with the Source's Scanner and Merger.
type serialLink struct {
	s       *Source
	port    serial.Port
	file    *os.File // the port read through the poller (pollPort); nil: the library's Read
	silence time.Duration
	sc      *Scanner
	m       *Merger
}

func (s *Source) openSerial(baud int, silence time.Duration, sc *Scanner, m *Merger) (link, error) {
	port, err := serial.Open(s.Device, &serial.Mode{BaudRate: baud})
	if err != nil {
		return nil, err
	}
	if err := port.SetReadTimeout(silence); err != nil {
		port.Close()
		return nil, err
	}
	// Bytes queued before we opened are from the past (a simulator's pty
	// buffers them); a fix from them would be stale. Best effort: not
	// every port can.
	_ = port.ResetInputBuffer()
	return &serialLink{s: s, port: port, file: pollPort(port, s.Device), silence: silence, sc: sc, m: m}, nil
}

func (l *serialLink) close() {
	l.closePort()
	// What was in flight is incomplete: the rest of the cycle is lost
	// with the device, and the next cycle may be long after.
	l.m.discard()
}

// read feeds the port through the scanner and merger until an error.
func (l *serialLink) read(ctx context.Context, d *deliverer) (got bool, err error) {
	s, sc, m := l.s, l.sc, l.m
	// Closing the port is what interrupts a blocked Read.
	stop := context.AfterFunc(ctx, l.closePort)
	defer stop()
	r := &portReader{port: l.port, file: l.file, silence: l.silence, before: func() { s.publish(sc, m) }, bytes: &s.bytes}
	sc.Reset(r)
	for sc.Scan() {
		line := sc.Bytes()
		if s.OnSentence != nil {
			s.OnSentence(line)
		}
		if f, ok := m.Feed(line); ok {
			s.fix(f, d)
			s.publish(sc, m)
		}
	}
	s.publish(sc, m)
	err = sc.Err()
	if err == nil {
		// The scanner only ends cleanly at EOF, which a serial port does
		// not report; treat it as the device going away.
		err = io.ErrUnexpectedEOF
	}
	return r.got, err
}

// fix records f as the last fix and delivers it.
func (s *Source) fix(f Fix, d *deliverer) {
	now := time.Now()
	s.mu.Lock()
	s.stats.LastFix, s.stats.LastFixAt = f, now
	s.mu.Unlock()
	d.put(f)
}

// publish makes the counters visible to Stats. It runs before every read
// of the port, when the scanner has consumed everything read so far, so
// that a stream of garbage that never yields a sentence is still seen.
func (s *Source) publish(sc *Scanner, m *Merger) {
	c, mc := sc.Counters(), m.Counters()
	c.Add(&mc)
	s.mu.Lock()
	s.stats.Counters = c
	s.mu.Unlock()
}

// closePort closes the port and its polled descriptor (either may be
// closed already).
func (l *serialLink) closePort() {
	if l.file != nil {
		l.file.Close()
	}
	l.port.Close()
}

// portReader counts bytes and turns the port's read timeout into ErrSilent.
type portReader struct {
	port    serial.Port
	file    *os.File // non-nil: read this instead, with a deadline
	silence time.Duration
	before  func()
	bytes   *atomic.Uint64
	got     bool
}

func (r *portReader) Read(p []byte) (int, error) {
	r.before()
	var n int
	var err error
	if r.file != nil {
		if err = r.file.SetReadDeadline(time.Now().Add(r.silence)); err == nil {
			n, err = r.file.Read(p)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			n, err = 0, nil // as the library reports its timeout
		}
	} else {
		n, err = r.port.Read(p)
	}
	if n > 0 {
		r.got = true
		r.bytes.Add(uint64(n))
		return n, err
	}
	if err == nil {
		// With SetReadTimeout, (0, nil) is a timeout: a whole silence.
		return 0, fmt.Errorf("%w for %v", ErrSilent, r.silence)
	}
	return 0, err
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
