package main

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pttagent/pttagent/agent/config/configtest"
	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
)

// fileCard is a sound card made of files (ALSA's file plugin) for the
// real binary, and a config that names its devices.
func fileCard(t *testing.T, capture, playback string) (card *audiotest.Card, env []string, cfg string) {
	t.Helper()
	dir := t.TempDir()
	card, err := audiotest.NewCard(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg = configtest.Write(t, dir, `device: {account: dev-audio}
gps: {device: "{dir}/gps0"}
mqtt: {brokers: ["tcp://127.0.0.1:1883"]}
state_dir: "{dir}/state"
runtime_dir: "{dir}/run"
audio: {capture_device: "`+capture+`", playback_device: "`+playback+`"}
`)
	return card, []string{"ALSA_CONFIG_PATH=" + card.Config}, cfg
}

func sine(hz, amp float64, d time.Duration) []int16 {
	s := make([]int16, int(d.Seconds()*audio.SampleRate))
	for i := range s {
		s[i] = int16(amp * math.MaxInt16 * math.Sin(2*math.Pi*hz*float64(i)/audio.SampleRate))
	}
	return s
}

func TestAudioDevices(t *testing.T) {
	_, env, cfg := fileCard(t, "filein", "")
	code, out, errOut := runBinary(t, env, "audio", "devices", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"Sound cards (/proc/asound/cards):\n",
		"filein\n", "fileout\n", "default  (default microphone, default speaker)\n",
		`audio.capture_device   "filein"     → filein` + "\n",
		`audio.playback_device  ""           → default (the system's default)` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A name that matches nothing: said, with what there is.
	_, env, cfg = fileCard(t, "usb", "eout")
	_, out, _ = runBinary(t, env, "audio", "devices", "--config", cfg)
	for _, want := range []string{
		`audio.capture_device   "usb"        → none: no such audio device "usb"; devices: "filein", "fileout", "default"`,
		`audio.playback_device  "eout"       → fileout`, // a unique part of a name is enough
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A part of several names: which ones.
func TestAudioDevicesAmbiguous(t *testing.T) {
	_, env, cfg := fileCard(t, "file", "")
	_, out, _ := runBinary(t, env, "audio", "devices", "--config", cfg)
	if want := `audio.capture_device   "file"       → none: "file" matches several devices (filein, fileout): write the whole name`; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

// The tone reaches the speaker at 1 kHz and −12 dBFS; the microphone's
// level is measured right; the loopback plays the microphone back through
// Opus, recognisably.
func TestAudioTest(t *testing.T) {
	card, env, cfg := fileCard(t, "filein", "fileout")
	if err := card.SetInput(sine(440, 0.1, 2*time.Second), time.Second); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runBinary(t, env, "audio", "test", "--config", cfg, "--seconds", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "speaker fileout: played 1 s of 1000 Hz at -12 dBFS") {
		t.Errorf("output:\n%s", out)
	}
	played, err := card.Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(played) != audio.SampleRate {
		t.Fatalf("%d samples played, want 1 s", len(played))
	}
	crossings, peak := 0, 0.0
	for i := 1; i < len(played); i++ {
		if (played[i-1] < 0) != (played[i] < 0) {
			crossings++
		}
		peak = math.Max(peak, math.Abs(float64(played[i]))/32768)
	}
	if crossings < 1990 || crossings > 2010 || math.Abs(dBFS(peak)+12) > 0.1 {
		t.Errorf("tone: %d zero crossings in 1 s (want 2000 for 1 kHz), peak %.2f dBFS (want -12)", crossings, dBFS(peak))
	}
	// 0.1 of full scale is −20 dBFS peak, −23 dBFS RMS for a sine.
	levels := regexp.MustCompile(`(?m)^\s+([0-9.]+) s  peak +(-?[0-9.]+) dBFS  rms +(-?[0-9.]+) dBFS  \[#+\.*\]$`).FindAllStringSubmatch(out, -1)
	if len(levels) != 2 {
		t.Fatalf("want 2 level lines (0.5 s each), got:\n%s", out)
	}
	for _, l := range levels {
		pk, _ := strconv.ParseFloat(l[2], 64)
		rms, _ := strconv.ParseFloat(l[3], 64)
		if math.Abs(pk+20) > 0.2 || math.Abs(rms+23) > 0.2 {
			t.Errorf("level line %q: want peak -20, rms -23 dBFS", l[0])
		}
	}

	speech := audiotest.Speech(t)
	if err := card.SetInput(speech, time.Second); err != nil {
		t.Fatal(err)
	}
	secs := float64(len(speech))/audio.SampleRate + 0.5
	code, out, errOut = runBinary(t, env, "audio", "test", "--config", cfg, "--no-tone", "--loopback", "--seconds", strconv.FormatFloat(secs, 'f', 1, 64))
	if code != 0 || !strings.Contains(out, "loopback: played") || strings.Contains(out, "speaker fileout: played") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	heard, err := card.Output()
	if err != nil {
		t.Fatal(err)
	}
	lag, ncc := audiotest.Align(speech, heard, 2000)
	if ncc < 0.8 {
		t.Errorf("the loopback does not sound like the microphone: NCC %.2f at lag %d", ncc, lag)
	}
	t.Logf("loopback through Opus: NCC %.3f at a lag of %d samples", ncc, lag)
}

func TestAudioTestSilentMicrophone(t *testing.T) {
	card, env, cfg := fileCard(t, "filein", "fileout")
	if err := card.SetInput(nil, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	_, out, _ := runBinary(t, env, "audio", "test", "--config", cfg, "--seconds", "1", "--no-tone")
	if !strings.Contains(out, "microphone: digital silence: muted, or the wrong device") {
		t.Errorf("output:\n%s", out)
	}
}

// Without a sound card the command fails (status 1) naming the device.
func TestAudioTestNoCard(t *testing.T) {
	_, env, cfg := fileCard(t, "nope", "")
	code, _, errOut := runBinary(t, env, "audio", "test", "--config", cfg, "--no-tone", "--seconds", "1")
	if code != 1 || !strings.Contains(errOut, `microphone: open capture nope: no such audio device "nope"`) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}
