package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.bug.st/serial"

	"github.com/pttagent/pttagent/agent"
	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/gps"
)

// A doctor step's outcome, in order of how bad it is; the worst is the
// exit status (skipped steps do not count: the step they depend on does).
type outcome int

const (
	stepOK outcome = iota
	stepSkipped
	stepWarn
	stepFail
)

func (o outcome) String() string {
	return [...]string{"[ OK ]", "[SKIP]", "[WARN]", "[FAIL]"}[o]
}

// exit statuses of doctor: usage errors stay 2.
var doctorExit = map[outcome]int{stepOK: 0, stepSkipped: 0, stepWarn: 1, stepFail: 3}

// finding is what one step found.
type finding struct {
	Step    string   `json:"step"`
	Outcome string   `json:"outcome"` // ok, skipped, warn, fail
	Lines   []string `json:"lines"`   // what was seen
	Hint    string   `json:"hint,omitempty"`
	o       outcome
}

// doctor runs the steps in order. Every step gets what the earlier ones
// learnt; a step whose prerequisite failed is skipped with the reason.
type doctor struct {
	out     io.Writer
	path    string
	timeout time.Duration // for each network operation
	cfg     *config.Config
	// running is the running agent's status; nil when none answers.
	running *agent.Status
	// openSerial opens the receiver; a variable so that a test can give a
	// port whose baud rate matters (a pty ignores it).
	openSerial func(dev string, baud int) (serialPort, error)
	// endpoints are the broker and platform addresses the network steps
	// walk through, filled by the dns step and carried on.
	endpoints []*endpoint
	findings  []finding
}

// serialPort is what doctor reads a receiver through.
type serialPort interface {
	Read(p []byte) (int, error)
	SetReadTimeout(time.Duration) error
	Close() error
}

func openSerialPort(dev string, baud int) (serialPort, error) {
	return serial.Open(dev, &serial.Mode{BaudRate: baud})
}

func setupDoctor(fs *flag.FlagSet) runner {
	cfgPath := configFlag(fs, "")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on each network operation (`DURATION`)")
	asJSON := fs.Bool("json", false, "print the findings as JSON (for scripts and bug reports)")
	return func(ctx context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		d := &doctor{out: io.out, path: *cfgPath, timeout: *timeout, openSerial: openSerialPort}
		if *asJSON {
			d.out = nil
		}
		worst := d.run(ctx)
		if *asJSON {
			b, _ := json.MarshalIndent(d.findings, "", "  ")
			fmt.Fprintf(io.out, "%s\n", b)
		}
		if code := doctorExit[worst]; code != 0 {
			return exitStatus(code)
		}
		return nil
	}
}

// run runs every step and returns the worst outcome.
func (d *doctor) run(ctx context.Context) outcome {
	steps := []struct {
		name string
		f    func(context.Context) finding
	}{
		{"config", d.config},
		{"secrets", d.secrets},
		{"gps", d.gps},
		{"dns", d.dns},
		{"tcp", d.tcp},
		{"tls", d.tls},
		{"mqtt", d.mqtt},
		{"platform", d.platform},
		{"sound", d.sound},
	}
	worst := stepOK
	for _, s := range steps {
		var f finding
		if ctx.Err() != nil {
			f = skipped("interrupted")
		} else {
			f = s.f(ctx)
		}
		f.Step = s.name
		f.Outcome = strings.ToLower(strings.Trim(f.o.String(), "[ ]"))
		d.findings = append(d.findings, f)
		d.print(f)
		if f.o != stepSkipped && f.o > worst {
			worst = f.o
		}
	}
	if d.out != nil {
		var bad []string
		for _, f := range d.findings {
			if f.o == stepWarn || f.o == stepFail {
				bad = append(bad, f.Step)
			}
		}
		switch worst {
		case stepOK:
			fmt.Fprintf(d.out, "\nOK: every step passed\n")
		case stepWarn:
			fmt.Fprintf(d.out, "\nWARNING: %s\n", strings.Join(bad, ", "))
		default:
			fmt.Fprintf(d.out, "\nFAILED: %s\n", strings.Join(bad, ", "))
		}
	}
	return worst
}

func (d *doctor) print(f finding) {
	if d.out == nil {
		return
	}
	lines := f.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(d.out, "%s %-9s %s\n", f.o, f.Step, escapeText(l))
		} else {
			fmt.Fprintf(d.out, "%17s%s\n", "", escapeText(l))
		}
	}
	if f.Hint != "" {
		fmt.Fprintf(d.out, "%17s→ %s\n", "", escapeText(f.Hint))
	}
}

func ok(lines ...string) finding { return finding{o: stepOK, Lines: lines} }
func warn(hint string, lines ...string) finding {
	return finding{o: stepWarn, Lines: lines, Hint: hint}
}
func fail(hint string, lines ...string) finding {
	return finding{o: stepFail, Lines: lines, Hint: hint}
}
func skipped(why string) finding { return finding{o: stepSkipped, Lines: []string{why}} }

// needConfig is the reason to skip a step without a usable config.
const needConfig = "needs a config the agent accepts (see config)"

// config loads the file as the agent would, and looks for a running
// agent, which the hardware and login steps then leave alone.
func (d *doctor) config(ctx context.Context) finding {
	cfg, warns, err := config.Load(d.path)
	var ps config.Problems
	switch {
	case errors.As(err, &ps):
		var lines []string
		for _, p := range ps {
			if !p.Warning && !d.isSecretsProblem(p) {
				lines = append(lines, p.Error())
			}
		}
		if len(lines) == 0 { // only the secrets file is wrong: that step says so
			return ok(d.path + ": no errors of its own")
		}
		return fail("fix these lines; pttagent check-config "+d.path+" lists the same", lines...)
	case errors.Is(err, fs.ErrPermission):
		return fail("run doctor as root, or as the service user: runuser -u pttagent -- pttagent doctor", err.Error())
	case err != nil:
		return fail("", err.Error())
	}
	d.cfg = cfg
	d.running = runningAgent(ctx, filepath.Join(cfg.RuntimeDir, statussock.FileName))
	lines := []string{d.path + ": no errors"}
	if d.running != nil {
		lines = append(lines, "the agent is running ("+d.running.Version+"): its receiver, sound card and broker session are not touched; what it reports is shown")
	} else {
		lines = append(lines, "the agent is not running: every step is tried here")
	}
	var ws []string
	for _, w := range warns {
		if !d.isSecretsProblem(w) {
			ws = append(ws, w.Error())
		}
	}
	if len(ws) > 0 {
		return warn("warnings do not stop the agent; check they are what you expect", append(lines, ws...)...)
	}
	return ok(lines...)
}

func (d *doctor) isSecretsProblem(p config.Problem) bool {
	return p.Key == "secrets_file" || (p.File != "" && p.File != d.path)
}

// runningAgent is the running agent's status, or nil.
func runningAgent(ctx context.Context, sock string) *agent.Status {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	data, err := statussock.Fetch(ctx, sock)
	if err != nil {
		return nil
	}
	var s agent.Status
	if json.Unmarshal(data, &s) != nil {
		return nil
	}
	return &s
}

// secrets checks the secrets file: who may read it, and that it holds
// what the config's logins need. Values are never shown.
func (d *doctor) secrets(ctx context.Context) finding {
	cfg, _, err := config.Load(d.path)
	var ps config.Problems
	if errors.As(err, &ps) {
		var lines []string
		for _, p := range ps {
			if d.isSecretsProblem(p) {
				lines = append(lines, p.Error())
			}
		}
		if len(lines) > 0 {
			return fail("the secrets file belongs to the service user, mode 600: install -o pttagent -g pttagent -m 600 …", lines...)
		}
		return skipped(needConfig)
	}
	if err != nil {
		return skipped(needConfig)
	}
	var lines []string
	var problems []string
	if cfg.SecretsFile == "" {
		lines = append(lines, "no secrets_file: no passwords")
	} else {
		fi, err := os.Stat(cfg.SecretsFile)
		if err != nil {
			return fail("", err.Error())
		}
		st := fi.Sys().(*syscall.Stat_t)
		owner := strconv.Itoa(int(st.Uid))
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		var set []string
		v := reflect.ValueOf(cfg.Secrets)
		for i := 0; i < v.NumField(); i++ {
			if v.Field(i).String() != "" {
				set = append(set, strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0])
			}
		}
		lines = append(lines, fmt.Sprintf("%s: mode %04o, owner %s; holds %s", cfg.SecretsFile, fi.Mode().Perm(), owner, orNone(set)))
		if svc, err := user.Lookup("pttagent"); err == nil && cfg.Path == config.DefaultPath && svc.Uid != strconv.Itoa(int(st.Uid)) {
			problems = append(problems, "owned by "+owner+", not by the service user pttagent, which then cannot read it")
		}
	}
	tlsBroker, clientCert := false, cfg.MQTT.TLS.CertFile != ""
	for _, b := range cfg.MQTT.Brokers {
		tlsBroker = tlsBroker || isTLSScheme(b)
	}
	if cfg.Secrets.MQTTPassword == "" && !clientCert {
		problems = append(problems, "no mqtt_password and no client certificate: the broker must let the device in without either")
	}
	if !tlsBroker && cfg.Secrets.MQTTPassword != "" {
		problems = append(problems, "the broker connection is not TLS: mqtt_password crosses the network in clear")
	}
	switch cfg.Platform.Dialect {
	case "corp":
		if cfg.Secrets.PlatformPasswordHash() == "" {
			problems = append(problems, "platform.dialect corp: no platform_password (or platform_password_md5): the platform login will fail")
		}
	case "wapi":
		if cfg.Secrets.PlatformToken == "" && cfg.Secrets.PlatformPasswordHash() == "" {
			problems = append(problems, "platform.dialect wapi: no platform_token and no platform_password: the platform login will fail")
		}
	}
	if len(problems) > 0 {
		return warn("the secrets file: one key a line, e.g. mqtt_password: \"…\" (docs/config.md, Secrets file)", append(lines, problems...)...)
	}
	return ok(lines...)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

func isTLSScheme(u string) bool {
	scheme, _, _ := strings.Cut(u, "://")
	switch strings.ToLower(scheme) {
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps", "wss", "https":
		return true
	}
	return false
}

// standardBauds are tried, most common first, when the receiver sends
// garbage at the configured rate.
var standardBauds = []int{9600, 4800, 38400, 115200, 19200, 57600, 230400, 460800, 921600}

// gps opens the receiver and reads it: bytes, then NMEA sentences, then a
// fix. Garbage means a wrong baud rate, most of the time: each standard
// rate is tried for a moment.
func (d *doctor) gps(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	dev, baud := d.cfg.GPS.Device, d.cfg.GPS.Baud
	if r := d.running; r != nil {
		g := r.GPS
		line := fmt.Sprintf("the agent reads %s: %d sentences, %d fixes, mode %s (%d sats)", dev, g.Sentences, g.Fixes, g.Mode, g.Sats)
		switch {
		case !g.Connected:
			return fail("plug the receiver in; ls -l /dev/serial/by-id/", fmt.Sprintf("the agent cannot open %s: %s", dev, g.LastError))
		case g.Sentences == 0:
			return fail("wrong gps.baud? stop the agent and run doctor again to guess the rate", line)
		case !g.HasFix:
			return warn("sky view and antenna; a cold start takes minutes (pttagent gps watch)", line)
		}
		return ok(line)
	}
	res, err := d.readReceiver(ctx, dev, baud, 3*time.Second)
	if err != nil {
		return fail(serialHint(err), err.Error())
	}
	if res.bytes == 0 {
		return fail("check the receiver's power and cable; some modules must be told to send NMEA",
			fmt.Sprintf("%s at %d baud: opened, but nothing in %s", dev, baud, res.took))
	}
	if res.sentences == 0 {
		// Garbage: find the rate at which it speaks NMEA.
		lines := []string{fmt.Sprintf("%s at %d baud: %d bytes, no NMEA sentence (%s)", dev, baud, res.bytes, res.drops)}
		for _, b := range standardBauds {
			if b == baud || ctx.Err() != nil {
				continue
			}
			r, err := d.readReceiver(ctx, dev, b, 1500*time.Millisecond)
			if err == nil && r.sentences > 0 {
				return fail(fmt.Sprintf("set gps.baud: %d", b), append(lines, fmt.Sprintf("at %d baud: %d sentences: the receiver speaks %d baud", b, r.sentences, b))...)
			}
		}
		return fail("no standard baud rate gave NMEA: a receiver speaking a binary protocol (UBX, SiRF) must be set to NMEA", lines...)
	}
	line := fmt.Sprintf("%s at %d baud: %d sentences in %s", dev, baud, res.sentences, res.took.Round(100*time.Millisecond))
	if !res.fix.Valid {
		return warn("sky view and antenna; a cold start takes minutes (pttagent gps watch shows the satellites)",
			line, fmt.Sprintf("no fix yet (%d satellites used)", res.fix.Sats))
	}
	return ok(line, fmt.Sprintf("fix %s, %d satellites", res.fix.Mode, res.fix.Sats))
}

type receiverRead struct {
	bytes, sentences int
	drops            string
	fix              gps.Fix
	took             time.Duration
}

// readReceiver reads dev at baud for up to d, or until a valid fix.
func (d *doctor) readReceiver(ctx context.Context, dev string, baud int, dur time.Duration) (receiverRead, error) {
	port, err := d.openSerial(dev, baud)
	if err != nil {
		return receiverRead{}, fmt.Errorf("open %s: %w", dev, err)
	}
	defer port.Close()
	port.SetReadTimeout(100 * time.Millisecond)
	start := time.Now()
	deadline := start.Add(dur)
	r := &deadlineReader{ctx: ctx, port: port, deadline: deadline}
	sc := gps.NewScanner(r)
	var m gps.Merger
	var res receiverRead
	for sc.Scan() {
		res.sentences++
		if f, ok := m.Feed(sc.Bytes()); ok {
			res.fix = f
			if f.Valid {
				break
			}
		}
	}
	c := sc.Counters()
	res.bytes, res.took = r.n, time.Since(start)
	var drops []string
	for i, n := range c.Drops {
		if n > 0 {
			drops = append(drops, fmt.Sprintf("%s %d", gps.Reason(i), n))
		}
	}
	res.drops = orNone(drops)
	return res, nil
}

// deadlineReader ends the stream at a deadline: a serial port's read
// timeout is (0, nil), which the Scanner would wait on forever.
type deadlineReader struct {
	ctx      context.Context
	port     serialPort
	deadline time.Time
	n        int
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	for {
		if time.Now().After(r.deadline) || r.ctx.Err() != nil {
			return 0, io.EOF
		}
		n, err := r.port.Read(p)
		r.n += n
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func serialHint(err error) string {
	var pe *serial.PortError
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.As(err, &pe) && pe.Code() == serial.PortNotFound:
		return "plug the receiver in; check gps.device (ls -l /dev/serial/by-id/)"
	case errors.Is(err, fs.ErrPermission), errors.As(err, &pe) && pe.Code() == serial.PermissionDenied:
		return "the service user must be in group dialout (id pttagent)"
	case errors.As(err, &pe) && pe.Code() == serial.PortBusy:
		return "another program holds the port (gpsd, ModemManager): stop it"
	}
	return "gps.device must be the receiver's serial port"
}

// sound opens the configured microphone and speaker for a moment.
func (d *doctor) sound(ctx context.Context) finding {
	if d.cfg == nil {
		return skipped(needConfig)
	}
	if r := d.running; r != nil {
		if r.PTT == nil {
			return skipped("the running agent has no push-to-talk")
		}
		if r.PTT.AudioError != "" {
			return fail("audio.capture_device, audio.playback_device: pttagent audio devices lists what there is", "the agent: "+r.PTT.AudioError)
		}
		return ok("the agent has its microphone and speaker open")
	}
	a := d.cfg.Audio
	var lines, bad []string
	if c, err := audio.OpenCapture(a.CaptureDevice); err != nil {
		bad = append(bad, "microphone: "+err.Error())
	} else {
		lines = append(lines, fmt.Sprintf("microphone %q opens (audio.capture_device %q)", c.Name(), a.CaptureDevice))
		c.Close()
	}
	if p, err := audio.OpenPlayback(a.PlaybackDevice); err != nil {
		bad = append(bad, "speaker: "+err.Error())
	} else {
		lines = append(lines, fmt.Sprintf("speaker %q opens (audio.playback_device %q)", p.Name(), a.PlaybackDevice))
		p.Close()
	}
	if len(bad) > 0 {
		return fail("pttagent audio devices lists the devices; set audio.capture_device and audio.playback_device", append(bad, lines...)...)
	}
	return ok(lines...)
}
