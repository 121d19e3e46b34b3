package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/gps/gpssim"
)

const gpsUsage = `Usage:
  pttagent gps replay FILE [--json | --gpx | --geojson]
                                           print the fixes in an NMEA log (FILE - is stdin),
                                           or export its track as GPX 1.1 or GeoJSON
  pttagent gps watch --device DEV [--baud N] [--modem TYPE --control PORT]
                                           live view of a receiver, for a technician; DEV may
                                           be gpsd://host[:port]; --modem quectel|simcom turns a
                                           cellular module's GNSS on through its AT port
  pttagent gps ports                       list the serial ports and their /dev/serial/by-id names
  pttagent gps simulate --log FILE --link PATH [--speed X] [--loop=true] [--retime=true]
                        [--modem TYPE --control PATH]
                                           play a log into a pseudo-terminal linked at PATH; with
                                           --modem, as a cellular module whose GNSS streams only
                                           after its enable command on the AT port at --control
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
	case "ports":
		return gpsPorts(args[1:], stdout, stderr)
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

// replayFormat is what replay writes.
type replayFormat int

const (
	formatText    replayFormat = iota // one line per fix
	formatJSON                        // one JSON object per fix
	formatGPX                         // the valid fixes as a GPX 1.1 track
	formatGeoJSON                     // the valid fixes as a GeoJSON LineString
)

func gpsReplay(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	asJSON := fs.Bool("json", false, "one JSON object per fix: time, lat, lon, alt, speed, course, mode, sats, hdop, accuracy")
	asGPX := fs.Bool("gpx", false, "the track of the valid fixes as GPX 1.1 (time, elevation, fix, sats, HDOP)")
	asGeoJSON := fs.Bool("geojson", false, "the track of the valid fixes as a GeoJSON LineString, times in coordTimes")
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	format, n := formatText, 0
	for f, on := range map[replayFormat]bool{formatJSON: *asJSON, formatGPX: *asGPX, formatGeoJSON: *asGeoJSON} {
		if on {
			format, n = f, n+1
		}
	}
	if len(files) != 1 || n > 1 {
		fmt.Fprintln(stderr, "pttagent gps replay: one FILE (or -) please, and at most one of --json, --gpx, --geojson")
		fs.Usage()
		return errUsage
	}
	var in io.Reader = os.Stdin
	name := "stdin"
	if files[0] != "-" {
		f, err := os.Open(files[0])
		if err != nil {
			return fmt.Errorf("gps replay: %w", err)
		}
		defer f.Close()
		in, name = f, filepath.Base(files[0])
	}
	c, err := replay(in, stdout, format, name)
	printCounters(stderr, &c)
	if err != nil {
		return fmt.Errorf("gps replay %s: %w", files[0], err)
	}
	return nil
}

// replay decodes an NMEA log as fast as it can and writes one line per
// completed cycle, or the track of its valid fixes. Lines allocate
// nothing per sentence or per fix.
func replay(in io.Reader, out io.Writer, format replayFormat, name string) (gps.Counters, error) {
	w := bufio.NewWriterSize(out, 64<<10)
	sc := gps.NewScanner(in)
	var m gps.Merger
	line := make([]byte, 0, 256)
	var track trackWriter
	switch format {
	case formatGPX:
		track = newGPX(w, name)
	case formatGeoJSON:
		track = &geoJSON{w: w, name: name}
	}
	emit := func(f *gps.Fix) {
		switch format {
		case formatJSON:
			line = append(f.AppendJSON(line[:0]), '\n')
		case formatText:
			line = append(f.AppendText(line[:0]), '\n')
		default:
			if f.Valid && f.Is(gps.HasPosition) {
				track.add(f)
			}
			return
		}
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
	if track != nil {
		track.end()
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
	link := fs.String("link", "", "path of the symlink to the pseudo-terminal, e.g. /tmp/gps0 (required); with --modem, the NMEA port")
	speed := fs.Float64("speed", 1, "playback speed: 1 real time, 10 ten times as fast")
	loop := fs.Bool("loop", true, "start the log again when it ends")
	retime := fs.Bool("retime", true, "rewrite times and dates to now, so looped fixes are fresh")
	modemType := fs.String("modem", "", "simulate a cellular module whose GNSS streams only after its enable command: quectel or simcom")
	control := fs.String("control", "", "with --modem: path of the symlink to the module's AT port, e.g. /tmp/at0")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if *logFile == "" || *link == "" || len(rest) > 0 || *speed <= 0 || (*modemType == "") != (*control == "") {
		fmt.Fprintln(stderr, "pttagent gps simulate: --log and --link are required, --speed must be positive, --modem and --control go together")
		fs.Usage()
		return errUsage
	}
	data, err := os.ReadFile(*logFile)
	if err != nil {
		return fmt.Errorf("gps simulate: %w", err)
	}
	p := gpssim.Player{Speed: *speed, Loop: *loop, Retime: *retime}
	looping := map[bool]string{true: ", looping", false: ""}[*loop]
	if *modemType != "" {
		m, err := gpssim.NewModem(*control, *link, *modemType)
		if err != nil {
			return fmt.Errorf("gps simulate: %w", err)
		}
		defer m.Close()
		fmt.Fprintf(stdout, "gps simulate: %s module with its AT port at %s (%s) and its NMEA port at %s (%s); the GNSS plays %s at %gx%s once turned on; Ctrl-C to stop\n",
			*modemType, *control, m.Control.Name(), *link, m.NMEA.Name(), *logFile, *speed, looping)
		err = m.Run(ctx, &p, data)
		if ctx.Err() != nil {
			return nil
		}
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
		*link, dev.Name(), *logFile, *speed, looping)
	err = p.Play(ctx, dev, data)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gps simulate: %w", err)
	}
	return nil
}
