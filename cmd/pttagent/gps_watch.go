package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	nmea "github.com/adrianmo/go-nmea"
	"golang.org/x/sys/unix"

	"github.com/pttagent/pttagent/gps"
)

// watchNames are what watch's hints tell a technician to check: its own
// flags, not the agent's config keys.
var watchNames = gps.SettingNames{Device: "--device", Baud: "--baud", Control: "--control", Commands: "--modem"}

func gpsWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", stderr)
	device := fs.String("device", "", "serial device of the receiver, e.g. /dev/ttyACM0, or gpsd://host[:port] (required)")
	baud := fs.Int("baud", gps.DefaultBaud, "baud rate")
	modemType := fs.String("modem", "", "the GNSS is in a cellular module: "+strings.Join(gps.ModemPresets(), " or ")+"; turned on through --control")
	control := fs.String("control", "", "with --modem: the module's AT port, e.g. /dev/ttyUSB2")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	commands, known := gps.ModemPreset(*modemType)
	switch {
	case *device == "" || len(rest) > 0:
		fmt.Fprintln(stderr, "pttagent gps watch: --device is required")
	case (*modemType == "") != (*control == ""):
		fmt.Fprintln(stderr, "pttagent gps watch: --modem and --control go together")
	case *modemType != "" && !known:
		fmt.Fprintf(stderr, "pttagent gps watch: --modem %q: use %s\n", *modemType, strings.Join(gps.ModemPresets(), " or "))
	default:
		return watch(ctx, *device, *baud, *modemType, *control, commands, stdout)
	}
	fs.Usage()
	return errUsage
}

func watch(ctx context.Context, device string, baud int, modemType, control string, commands gps.ModemCommands, stdout io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sky := newSky()
	var lastLog logLine
	// Until the device has opened once, a failure to open it is the
	// answer: waiting would only hide it (a typo, a missing permission).
	fatal := make(chan error, 1)
	var everOpen atomic.Bool
	src := &gps.Source{Device: device, Baud: baud, OnSentence: sky.observe, OnSatellites: sky.fromGpsd, Names: watchNames,
		Logger: slog.New(slog.NewTextHandler(&lastLog, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnState: func(connected bool, err error) {
			if connected {
				everOpen.Store(true)
			} else if !everOpen.Load() {
				select {
				case fatal <- err:
				default:
				}
			}
		}}
	if modemType != "" {
		src.Switch = &gps.Modem{Port: control, Commands: commands, Names: watchNames}
	}
	fixes := make(chan gps.Fix, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, fixes) }()
	go func() {
		for {
			select { // the view reads the last fix from Stats
			case <-fixes:
			case <-ctx.Done():
				return
			}
		}
	}()
	term := isTerminal(stdout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	v := watchView{device: device, baud: baud, term: term, gpsd: gps.IsGpsd(device), modem: modemType != "", start: time.Now()}
	for {
		select {
		case err := <-fatal:
			cancel()
			<-done
			if errors.Is(err, fs.ErrNotExist) && !gps.IsGpsd(device) {
				return fmt.Errorf("gps watch: %w%s", err, portsHere())
			}
			return fmt.Errorf("gps watch: %w", err)
		case <-ctx.Done():
			<-done
			if term {
				fmt.Fprintln(stdout)
			}
			return nil
		case now := <-tick.C:
			v.render(stdout, now, src.Stats(), sky.snapshot(now), lastLog.get())
		}
	}
}

// portsHere names the serial ports there are, for a device that is not.
func portsHere() string {
	ports, err := listPorts(serialByID)
	if err != nil || len(ports) == 0 {
		return "; there is no serial port here now (pttagent gps ports)"
	}
	var names []string
	for _, p := range ports {
		names = append(names, p.name)
	}
	return "; serial ports here: " + strings.Join(names, ", ") + " (pttagent gps ports says what they are)"
}

// isTerminal reports whether w is a terminal, for the refreshing view.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// logLine keeps the last line the Source logged, to show the device state
// without scrolling the view.
type logLine struct {
	mu   sync.Mutex
	line string
}

func (l *logLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.line = strings.TrimSpace(string(p))
	l.mu.Unlock()
	return len(p), nil
}

func (l *logLine) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.line
}

// satInView is one satellite from GSV, marked used from GSA.
type satInView struct {
	system    string // GPS, GLONASS, Galileo, BeiDou, QZSS, NavIC, SBAS
	prn       int64
	elevation int64
	azimuth   int64
	snr       int64 // dB-Hz; 0 when not tracked
	used      bool
	seen      time.Time
}

// sky collects satellites in view. This is diagnostics, so it uses go-nmea
// (allocating) rather than the hot-path decoder.
type sky struct {
	mu   sync.Mutex
	sats map[string]*satInView
	used map[string]time.Time
}

func newSky() *sky { return &sky{sats: map[string]*satInView{}, used: map[string]time.Time{}} }

// fromGpsd takes gpsd's SKY report, which says what is used itself.
func (s *sky) fromGpsd(sats []gps.Satellite) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range sats {
		key := fmt.Sprintf("%s %d", g.System, g.PRN)
		s.sats[key] = &satInView{system: g.System, prn: int64(g.PRN), elevation: int64(g.Elevation), azimuth: int64(g.Azimuth), snr: int64(g.SNR), seen: now}
		if g.Used {
			s.used[key] = now
		} else {
			delete(s.used, key)
		}
	}
}

var systemOfTalker = map[string]string{"GP": "GPS", "GL": "GLONASS", "GA": "Galileo", "BD": "BeiDou", "GB": "BeiDou", "GQ": "QZSS", "GI": "NavIC"}

// NMEA 4.10 GSA system IDs.
var systemOfID = map[int64]string{1: "GPS", 2: "GLONASS", 3: "Galileo", 4: "BeiDou", 5: "QZSS", 6: "NavIC"}

// systemOfPRN guesses the system of a GN-talker PRN from NMEA's numbering
// ranges (GPS 1-32, SBAS 33-64, GLONASS 65-96).
func systemOfPRN(prn int64) string {
	switch {
	case prn >= 33 && prn <= 64:
		return "SBAS"
	case prn >= 65 && prn <= 96:
		return "GLONASS"
	}
	return "GPS"
}

func (s *sky) observe(line []byte) {
	typ := string(line[3:min(len(line), 6)])
	if typ != "GSV" && typ != "GSA" {
		return
	}
	sentence, err := nmea.Parse(string(line))
	if err != nil {
		return
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m := sentence.(type) {
	case nmea.GSV:
		sys := systemOfTalker[m.Talker]
		for _, in := range m.Info {
			name := sys
			if name == "" {
				name = systemOfPRN(in.SVPRNNumber)
			}
			key := fmt.Sprintf("%s %d", name, in.SVPRNNumber)
			s.sats[key] = &satInView{system: name, prn: in.SVPRNNumber, elevation: in.Elevation, azimuth: in.Azimuth, snr: in.SNR, seen: now}
		}
	case nmea.GSA:
		for _, sv := range m.SV {
			prn, err := strconv.ParseInt(sv, 10, 64) // not Sscan: "09" would be octal
			if err != nil {
				continue
			}
			name := systemOfID[m.SystemID]
			if name == "" {
				name = systemOfTalker[m.Talker]
			}
			if name == "" {
				name = systemOfPRN(prn)
			}
			s.used[fmt.Sprintf("%s %d", name, prn)] = now
		}
	}
}

// snapshot returns the satellites seen in the last 10 s, by system and PRN.
func (s *sky) snapshot(now time.Time) []satInView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []satInView
	for key, v := range s.sats {
		if now.Sub(v.seen) > 10*time.Second {
			delete(s.sats, key)
			continue
		}
		sat := *v
		sat.used = now.Sub(s.used[key]) < 3*time.Second
		out = append(out, sat)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].system != out[j].system {
			return out[i].system < out[j].system
		}
		return out[i].prn < out[j].prn
	})
	return out
}

// watchView renders the technician's view once a second.
type watchView struct {
	device string
	baud   int
	term   bool
	gpsd   bool // reading gpsd, not a serial port
	modem  bool // the GNSS is switched on through a module's AT port
	start  time.Time
	prev   gps.Stats
	prevAt time.Time
}

func (v *watchView) render(w io.Writer, now time.Time, st gps.Stats, sats []satInView, lastLog string) {
	rate := 0.0
	if !v.prevAt.IsZero() {
		rate = float64(st.Sentences+st.Ignored-v.prev.Sentences-v.prev.Ignored) / now.Sub(v.prevAt).Seconds()
	}
	v.prev, v.prevAt = st, now

	state := "waiting"
	switch {
	case st.Connected:
		state = "connected since " + st.Since.Format("15:04:05")
	case st.LastErr != nil:
		state = "NOT CONNECTED: " + st.LastErr.Error()
	}
	f := st.LastFix
	age := "never"
	if !st.LastFixAt.IsZero() {
		age = fmt.Sprintf("%.1fs ago", now.Sub(st.LastFixAt).Seconds())
	}
	fix := f.Mode.String()
	switch {
	case st.LastFixAt.IsZero():
		fix = "no fix yet"
	case f.Valid:
		fix += " valid"
	default:
		fix += " not valid"
	}
	tracked, used := 0, 0
	for _, s := range sats {
		if s.snr > 0 {
			tracked++
		}
		if s.used {
			used++
		}
	}
	// Used is what the rows mark, so that the count agrees with them; the
	// fix's own count can differ (u-blox's GGA counts at most 12).
	usedText := fmt.Sprint(used)
	switch {
	case len(sats) == 0:
		usedText = fmt.Sprint(f.Sats)
	case f.Is(gps.HasSats) && f.Sats != used:
		usedText += fmt.Sprintf(" (the fix says %d)", f.Sats)
	}
	hint := ""
	if !v.gpsd {
		hint = st.Hint(now, v.baud, watchNames)
	}

	if !v.term {
		// One line per second, for a log or a pipe.
		line := fmt.Sprintf("%s %s", now.UTC().Format("15:04:05Z"), fix)
		if f.Valid {
			line += fmt.Sprintf(" %.7f %.7f", f.Lat, f.Lon)
			if f.Is(gps.HasAltitude) {
				line += fmt.Sprintf(" alt %.1fm", f.Alt)
			}
			if f.Is(gps.HasSpeed) {
				line += fmt.Sprintf(" %.1fm/s", f.Speed)
			}
			if f.Is(gps.HasCourse) {
				line += fmt.Sprintf(" %.1f°", f.Course)
			}
		}
		line += fmt.Sprintf(" | sats used %s, %d tracked of %d in view | fix %s | %.1f sentences/s | dropped %d | %s",
			usedText, tracked, len(sats), age, rate, st.Drops.Total(), state)
		if hint != "" {
			line += " | " + hint
		}
		fmt.Fprintln(w, line)
		return
	}

	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J") // home, clear
	fmt.Fprintf(&b, "pttagent gps watch — %s @ %d baud — %s\n", v.device, v.baud, now.Format("15:04:05"))
	fmt.Fprintf(&b, "device    %s (opened %d, lost %d, %d bytes)\n", state, st.Opens, st.Disconnects, st.Bytes)
	fmt.Fprintf(&b, "fix       %s, received %s", fix, age)
	if f.Is(gps.HasTime | gps.HasDate) {
		fmt.Fprintf(&b, ", receiver time %s", f.Time.UTC().Format("2006-01-02 15:04:05.000Z"))
	}
	b.WriteString("\n")
	if f.Is(gps.HasPosition) {
		fmt.Fprintf(&b, "position  %.7f %.7f", f.Lat, f.Lon)
		if f.Is(gps.HasAltitude) {
			fmt.Fprintf(&b, "  alt %.1f m", f.Alt)
		}
		b.WriteString("\n")
	}
	if f.Is(gps.HasSpeed) || f.Is(gps.HasCourse) {
		fmt.Fprintf(&b, "motion    %.2f m/s (%.1f km/h)", f.Speed, f.Speed*3.6)
		if f.Is(gps.HasCourse) {
			fmt.Fprintf(&b, "  course %.1f°", f.Course)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "sats      %s used, %d tracked, %d in view", usedText, tracked, len(sats))
	if f.Is(gps.HasHDOP) {
		fmt.Fprintf(&b, "  HDOP %.2f", f.HDOP)
	}
	if f.Is(gps.HasPDOP) {
		fmt.Fprintf(&b, "  PDOP %.2f", f.PDOP)
	}
	if f.Is(gps.HasVDOP) {
		fmt.Fprintf(&b, "  VDOP %.2f", f.VDOP)
	}
	b.WriteString("\n")
	if f.Valid && f.Is(gps.HasAccuracy) {
		src := "HDOP × 5 m"
		if f.Is(gps.HasGST) {
			src = "the receiver's GST"
		}
		fmt.Fprintf(&b, "accuracy  %.1f m (from %s)\n", f.Accuracy, src)
	}
	fmt.Fprintf(&b, "input     %.1f sentences/s, %d fixes, %d ignored, %d late\n", rate, st.Fixes, st.Ignored, st.Late)
	b.WriteString("errors    ")
	if st.Drops.Total() == 0 {
		b.WriteString("none")
	}
	for r := gps.Reason(0); r < gps.NumReasons; r++ {
		if n := st.Drops[r]; n > 0 {
			fmt.Fprintf(&b, "%s %d  ", r, n)
		}
	}
	b.WriteString("\n")
	if lastLog != "" {
		fmt.Fprintf(&b, "log       %s\n", lastLog)
	}
	if hint != "" {
		fmt.Fprintf(&b, "HINT      %s\n", hint)
	}
	b.WriteString("\n  system   PRN  elev  azim  SNR  used\n")
	for _, s := range sats {
		snr, bar := "  -", ""
		if s.snr > 0 {
			snr = fmt.Sprintf("%3d", s.snr)
			bar = strings.Repeat("#", int(s.snr/5))
		}
		used := ""
		if s.used {
			used = "  *"
		}
		fmt.Fprintf(&b, "  %-7s %4d  %4d  %4d  %s %-4s %s\n", s.system, s.prn, s.elevation, s.azimuth, snr, used, bar)
	}
	io.WriteString(w, b.String())
}
