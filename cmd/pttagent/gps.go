package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nmea "github.com/adrianmo/go-nmea"
	"golang.org/x/sys/unix"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/gps/gpssim"
)

const gpsUsage = `Usage:
  pttagent gps replay FILE [--json]        print the fixes in an NMEA log (FILE - is stdin)
  pttagent gps watch --device DEV [--baud N]
                                           live view of a receiver, for a technician
  pttagent gps simulate --log FILE --link PATH [--speed X] [--loop=true] [--retime=true]
                                           play a log into a pseudo-terminal linked at PATH
`

// gpsCommand runs `pttagent gps ...`.
func gpsCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, gpsUsage)
		return errUsage
	}
	switch args[0] {
	case "replay":
		return gpsReplay(args[1:], stdout, stderr)
	case "watch":
		return gpsWatch(ctx, args[1:], stdout, stderr)
	case "simulate":
		return gpsSimulate(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, gpsUsage)
		return nil
	}
	fmt.Fprintf(stderr, "pttagent gps: unknown command %q\n%s", args[0], gpsUsage)
	return errUsage
}

// parseArgs parses flags wherever they are among the arguments
// ("replay FILE --json" as well as "replay --json FILE") and returns the
// others.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pttagent gps "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, gpsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// flagErr turns a flag parsing failure into errUsage: flag has printed it.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errUsage
}

func gpsReplay(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	asJSON := fs.Bool("json", false, "one JSON object per fix: time, lat, lon, alt, speed, course, mode, sats, hdop")
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "pttagent gps replay: one FILE (or -) please")
		fs.Usage()
		return errUsage
	}
	var in io.Reader = os.Stdin
	if name := files[0]; name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("gps replay: %w", err)
		}
		defer f.Close()
		in = f
	}
	c, err := replay(in, stdout, *asJSON)
	printCounters(stderr, &c)
	if err != nil {
		return fmt.Errorf("gps replay %s: %w", files[0], err)
	}
	return nil
}

// replay decodes an NMEA log as fast as it can and writes one line per
// completed cycle. It allocates nothing per sentence or per fix.
func replay(in io.Reader, out io.Writer, asJSON bool) (gps.Counters, error) {
	w := bufio.NewWriterSize(out, 64<<10)
	sc := gps.NewScanner(in)
	var m gps.Merger
	line := make([]byte, 0, 256)
	emit := func(f *gps.Fix) {
		if asJSON {
			line = f.AppendJSON(line[:0])
		} else {
			line = f.AppendText(line[:0])
		}
		line = append(line, '\n')
		w.Write(line)
	}
	for sc.Scan() {
		if f, ok := m.Feed(sc.Bytes()); ok {
			emit(&f)
		}
	}
	if f, ok := m.Flush(); ok {
		emit(&f)
	}
	c, mc := sc.Counters(), m.Counters()
	c.Add(&mc)
	return c, errors.Join(sc.Err(), w.Flush())
}

// printCounters writes what replay saw: one line per drop reason that
// occurred, then the totals.
func printCounters(w io.Writer, c *gps.Counters) {
	for r := gps.Reason(0); r < gps.NumReasons; r++ {
		if n := c.Drops[r]; n > 0 {
			fmt.Fprintf(w, "dropped %-12s %d\n", r.String()+":", n)
		}
	}
	fmt.Fprintf(w, "%d fixes from %d sentences; %d dropped, %d ignored, %d late, %d comments\n",
		c.Fixes, c.Sentences, c.Drops.Total(), c.Ignored, c.Late, c.Comments)
}

func gpsSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", stderr)
	logFile := fs.String("log", "", "NMEA log to play (required)")
	link := fs.String("link", "", "path of the symlink to the pseudo-terminal, e.g. /tmp/gps0 (required)")
	speed := fs.Float64("speed", 1, "playback speed: 1 real time, 10 ten times as fast")
	loop := fs.Bool("loop", true, "start the log again when it ends")
	retime := fs.Bool("retime", true, "rewrite times and dates to now, so looped fixes are fresh")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *logFile == "" || *link == "" || len(rest) > 0 || *speed <= 0 {
		fmt.Fprintln(stderr, "pttagent gps simulate: --log and --link are required, --speed must be positive")
		fs.Usage()
		return errUsage
	}
	data, err := os.ReadFile(*logFile)
	if err != nil {
		return fmt.Errorf("gps simulate: %w", err)
	}
	dev, err := gpssim.NewDevice(*link)
	if err != nil {
		return fmt.Errorf("gps simulate: %w", err)
	}
	defer dev.Close()
	// Like a receiver's UART: what nobody reads is lost, not queued up to
	// arrive stale later.
	dev.Lossy = true
	fmt.Fprintf(stdout, "gps simulate: receiver at %s (%s), playing %s at %gx%s; Ctrl-C to stop\n",
		*link, dev.Name(), *logFile, *speed, map[bool]string{true: ", looping", false: ""}[*loop])
	p := gpssim.Player{Speed: *speed, Loop: *loop, Retime: *retime}
	err = p.Play(ctx, dev, data)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gps simulate: %w", err)
	}
	return nil
}

func gpsWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", stderr)
	device := fs.String("device", "", "serial device of the receiver, e.g. /dev/ttyACM0 (required)")
	baud := fs.Int("baud", gps.DefaultBaud, "baud rate")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *device == "" || len(rest) > 0 {
		fmt.Fprintln(stderr, "pttagent gps watch: --device is required")
		fs.Usage()
		return errUsage
	}
	sky := newSky()
	var lastLog logLine
	src := &gps.Source{Device: *device, Baud: *baud, OnSentence: sky.observe,
		Logger: slog.New(slog.NewTextHandler(&lastLog, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	fixes := make(chan gps.Fix, 1)
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, fixes) }()
	go func() {
		for range fixes { // the view reads the last fix from Stats
		}
	}()
	term := isTerminal(stdout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	v := watchView{device: *device, baud: *baud, term: term}
	for {
		select {
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
	tracked := 0
	for _, s := range sats {
		if s.snr > 0 {
			tracked++
		}
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
		line += fmt.Sprintf(" | sats used %d, %d tracked of %d in view | fix %s | %.1f sentences/s | dropped %d | %s",
			f.Sats, tracked, len(sats), age, rate, st.Drops.Total(), state)
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
	fmt.Fprintf(&b, "sats      %d used, %d tracked, %d in view", f.Sats, tracked, len(sats))
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
