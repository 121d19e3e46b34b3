package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/agent/statussock"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/wire"
)

// procCards is the kernel's list of sound cards; a variable for tests.
var procCards = "/proc/asound/cards"

// agentConfig is the config the agent would use, or the defaults when it
// cannot be read (said on stderr: the devices shown are then what an
// empty audio section picks).
func agentConfig(path string, errOut io.Writer) *config.Config {
	cfg, _, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(errOut, "config: %s: the defaults are used\n", firstLine(err.Error()))
		def := config.Default()
		return &def
	}
	return cfg
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func setupAudioDevices(fs *flag.FlagSet) runner {
	cfgPath := configFlag(fs, " (for audio.capture_device and audio.playback_device)")
	return func(_ context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		return listAudioDevices(io.out, agentConfig(*cfgPath, io.errOut).Audio)
	}
}

func listAudioDevices(w io.Writer, a config.Audio) error {
	fmt.Fprintf(w, "Sound cards (%s):\n", procCards)
	cards, err := os.ReadFile(procCards)
	switch {
	case err != nil:
		fmt.Fprintf(w, "  none: %v (no kernel sound card; ALSA plugins may still give the devices below)\n", err)
	case strings.TrimSpace(string(cards)) == "" || strings.Contains(string(cards), "no soundcards"):
		fmt.Fprint(w, "  none\n")
	default:
		for _, l := range strings.Split(strings.TrimRight(string(cards), "\n"), "\n") {
			fmt.Fprintf(w, "  %s\n", escapeText(l))
		}
	}
	devs, err := audio.Devices()
	if err != nil {
		return fmt.Errorf("PortAudio: %w", err)
	}
	fmt.Fprint(w, "\nPortAudio devices (audio.capture_device, audio.playback_device: a name or a unique part of one):\n")
	if len(devs) == 0 {
		fmt.Fprint(w, "  none\n")
	} else {
		fmt.Fprintf(w, "  %3s %4s %6s  %-10s %s\n", "in", "out", "rate", "host", "name")
	}
	for _, d := range devs {
		var marks []string
		if d.DefaultInput {
			marks = append(marks, "default microphone")
		}
		if d.DefaultOutput {
			marks = append(marks, "default speaker")
		}
		mark := ""
		if len(marks) > 0 {
			mark = "  (" + strings.Join(marks, ", ") + ")"
		}
		fmt.Fprintf(w, "  %3d %4d %6.0f  %-10s %s%s\n", d.Inputs, d.Outputs, d.DefaultRate, escapeText(d.HostAPI), escapeText(d.Name), mark)
	}
	fmt.Fprint(w, "\nThe config picks:\n")
	for _, p := range []struct {
		key, name string
		input     bool
	}{{"audio.capture_device", a.CaptureDevice, true}, {"audio.playback_device", a.PlaybackDevice, false}} {
		fmt.Fprintf(w, "  %-22s %-12s → %s\n", p.key, fmt.Sprintf("%q", p.name), pickText(p.name, p.input))
	}
	return nil
}

// pickText is which device name would open, or why none would.
func pickText(name string, input bool) string {
	d, err := audio.Pick(name, input)
	if err != nil {
		return "none: " + err.Error()
	}
	if name == "" {
		return escapeText(d.Name) + " (the system's default)"
	}
	return escapeText(d.Name)
}

// escapeText shows device names and /proc lines, which USB devices
// name, without letting them drive the terminal.
func escapeText(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			q := fmt.Sprintf("%+q", s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

func setupAudioTest(fs *flag.FlagSet) runner {
	cfgPath := configFlag(fs, " (for its audio section)")
	capture := fs.String("capture", "", "the microphone `DEVICE` (default: audio.capture_device)")
	playback := fs.String("playback", "", "the speaker `DEVICE` (default: audio.playback_device)")
	seconds := fs.Float64("seconds", 5, "how long to show the microphone's level (and to record for --loopback), in `SECONDS`")
	loopback := fs.Bool("loopback", false, "then record --seconds and play them back through the Opus encoder and decoder")
	noTone := fs.Bool("no-tone", false, "skip the tone")
	return func(ctx context.Context, io stdio, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		if *seconds <= 0 || *seconds > 600 {
			return usagef("--seconds %v: from more than 0 to 600", *seconds)
		}
		cfg := agentConfig(*cfgPath, io.errOut)
		a := cfg.Audio
		// A running agent holds the card: the test would fail on a
		// busy device, or (ALSA's dmix) sound over the agent's voice.
		if running := runningAgent(ctx, filepath.Join(cfg.RuntimeDir, statussock.FileName)); running != nil {
			return fmt.Errorf("the agent is running and holds the sound card: stop it first (systemctl stop pttagent), then start it again")
		}
		if *capture == "" {
			*capture = a.CaptureDevice
		}
		if *playback == "" {
			*playback = a.PlaybackDevice
		}
		t := audioTest{out: io.out, capture: *capture, playback: *playback, pace: a.Pace,
			frames: int(math.Round(*seconds * audio.SampleRate / audio.FrameSamples)), bitrate: a.Bitrate,
			complexity: a.Complexity}
		if !*noTone {
			if err := t.tone(ctx); err != nil {
				return err
			}
		}
		if err := t.level(ctx); err != nil {
			return err
		}
		if *loopback {
			return t.loopback(ctx)
		}
		return nil
	}
}

type audioTest struct {
	out                 io.Writer
	capture, playback   string
	pace                bool
	frames              int
	bitrate, complexity int
}

// The test tone: 1 kHz for a second at −12 dBFS, loud enough to hear and
// far from clipping.
const (
	toneHz    = 1000
	toneLevel = 0.25
)

func (t *audioTest) openPlayback() (audio.Player, string, error) {
	p, err := audio.OpenPlayback(t.playback)
	if err != nil {
		return nil, "", err
	}
	var pl audio.Player = p
	if t.pace {
		pl = audio.PacePlayer(p, 2)
	}
	return pl, p.Name(), pl.Start()
}

func (t *audioTest) openCapture() (audio.Capturer, string, error) {
	c, err := audio.OpenCapture(t.capture)
	if err != nil {
		return nil, "", err
	}
	var cp audio.Capturer = c
	if t.pace {
		cp = audio.PaceCapture(c)
	}
	return cp, c.Name(), cp.Start()
}

func (t *audioTest) tone(ctx context.Context) error {
	p, name, err := t.openPlayback()
	if err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	defer p.Close()
	frame := make([]int16, audio.FrameSamples)
	n := 0
	for f := 0; f < audio.SampleRate/audio.FrameSamples && ctx.Err() == nil; f++ {
		for i := range frame {
			frame[i] = int16(toneLevel * math.MaxInt16 * math.Sin(2*math.Pi*toneHz*float64(n)/audio.SampleRate))
			n++
		}
		if err := p.WriteFrame(frame); err != nil {
			return fmt.Errorf("speaker: %w", err)
		}
	}
	if err := p.Stop(); err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	fmt.Fprintf(t.out, "speaker %s: played 1 s of %d Hz at %.0f dBFS: did you hear it?\n", escapeText(name), toneHz, dBFS(toneLevel))
	return nil
}

// level shows the microphone's level every half second: peak and RMS in
// dBFS, and a bar on which speech should reach past the middle.
func (t *audioTest) level(ctx context.Context) error {
	c, name, err := t.openCapture()
	if err != nil {
		return fmt.Errorf("microphone: %w", err)
	}
	defer c.Close()
	fmt.Fprintf(t.out, "microphone %s: level every 0.5 s for %.1f s (speak now)\n", escapeText(name), float64(t.frames)*audio.FrameDuration.Seconds())
	frame := make([]int16, audio.FrameSamples)
	const perLine = 25 // frames: 0.5 s
	var peak, sum float64
	n := 0
	maxPeak := 0.0
	for f := 0; f < t.frames && ctx.Err() == nil; f++ {
		if err := c.ReadFrame(frame); err != nil {
			return fmt.Errorf("microphone: %w", err)
		}
		for _, s := range frame {
			v := math.Abs(float64(s)) / 32768
			peak = math.Max(peak, v)
			sum += v * v
		}
		n += len(frame)
		if (f+1)%perLine == 0 || f == t.frames-1 {
			rms := math.Sqrt(sum / float64(n))
			fmt.Fprintf(t.out, "  %5.1f s  peak %6.1f dBFS  rms %6.1f dBFS  %s\n", float64(f+1)*audio.FrameDuration.Seconds(), dBFS(peak), dBFS(rms), bar(rms))
			maxPeak = math.Max(maxPeak, peak)
			peak, sum, n = 0, 0, 0
		}
	}
	switch {
	case maxPeak == 0:
		fmt.Fprint(t.out, "microphone: digital silence: muted, or the wrong device (arecord -L; alsamixer)\n")
	case maxPeak >= 0.99:
		fmt.Fprint(t.out, "microphone: clipping: turn the capture gain down (alsamixer)\n")
	}
	return c.Stop()
}

// loopback records, encodes each frame with the handset's Opus settings,
// decodes it and plays the result: what the group would hear.
func (t *audioTest) loopback(ctx context.Context) error {
	c, _, err := t.openCapture()
	if err != nil {
		return fmt.Errorf("microphone: %w", err)
	}
	fmt.Fprintf(t.out, "loopback: recording %.1f s (speak now)\n", float64(t.frames)*audio.FrameDuration.Seconds())
	recorded := make([][]byte, 0, t.frames)
	enc, err := audio.NewEncoder(audio.EncoderConfig{Bitrate: t.bitrate, Complexity: t.complexity})
	if err != nil {
		c.Close()
		return err
	}
	frame := make([]int16, audio.FrameSamples)
	buf := make([]byte, wire.MaxOpusFrame)
	bytes := 0
	for f := 0; f < t.frames && ctx.Err() == nil; f++ {
		if err := c.ReadFrame(frame); err != nil {
			c.Close()
			return fmt.Errorf("microphone: %w", err)
		}
		n, err := enc.Encode(frame, buf)
		if err != nil {
			c.Close()
			return err
		}
		recorded = append(recorded, append([]byte(nil), buf[:n]...))
		bytes += n
	}
	c.Close()
	dec, err := audio.NewDecoder()
	if err != nil {
		return err
	}
	p, name, err := t.openPlayback()
	if err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	defer p.Close()
	for _, pkt := range recorded {
		if ctx.Err() != nil {
			break
		}
		if err := dec.Decode(pkt, frame); err != nil {
			return err
		}
		if err := p.WriteFrame(frame); err != nil {
			return fmt.Errorf("speaker: %w", err)
		}
	}
	secs := float64(len(recorded)) * audio.FrameDuration.Seconds()
	fmt.Fprintf(t.out, "loopback: played %.1f s through Opus (%d bytes, %.1f kbit/s) on %s\n", secs, bytes,
		float64(bytes)*8/secs/1000, escapeText(name))
	return p.Stop()
}

func dBFS(v float64) float64 {
	if v <= 0 {
		return math.Inf(-1)
	}
	return 20 * math.Log10(v)
}

// bar draws an RMS level from −60 to 0 dBFS in 30 steps.
func bar(rms float64) string {
	n := int((dBFS(rms) + 60) / 2)
	n = max(0, min(30, n))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 30-n) + "]"
}
