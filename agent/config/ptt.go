package config

import (
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/pttagent/pttagent/board"
)

// Push-to-talk configuration: the sound path, the board's keys, LEDs and
// battery, floor control and voice prompts. Defaults are in pttDefaults,
// checks in validatePTT; the reference is docs/config.md.

type Audio struct {
	// CaptureDevice and PlaybackDevice are PortAudio device names (as
	// `pttagent audio devices` lists them; a unique part of the name is
	// enough); empty means the system's default device.
	CaptureDevice  string `yaml:"capture_device"`
	PlaybackDevice string `yaml:"playback_device"`
	// Bitrate of the Opus encoder in bit/s.
	Bitrate int `yaml:"bitrate"`
	// Complexity of the Opus encoder, 0–10: CPU against quality.
	Complexity int `yaml:"complexity"`
	// ExpectedLoss (percent) makes the encoder add in-band FEC so a lost
	// frame can be rebuilt from the next one; 0 turns FEC off.
	ExpectedLoss int `yaml:"expected_loss"`
	// FramesPerPacket is how many 20 ms frames go in one MQTT message:
	// more saves overhead, fewer saves latency.
	FramesPerPacket int `yaml:"frames_per_packet"`
	// UDPFramesPerPacket is the same for a burst sent over UDP, where a
	// packet costs less overhead than an MQTT message.
	UDPFramesPerPacket int `yaml:"udp_frames_per_packet"`
	// JitterTarget is the receive delay for a speaker not heard before
	// (lower on a link measured calm); after a few packets the buffer
	// measures each speaker's link.
	JitterTarget Duration `yaml:"jitter_target"`
	// JitterMax is the hard bound of what the receive buffer holds: a
	// smaller backlog is played faster, frames beyond it are dropped.
	JitterMax Duration `yaml:"jitter_max"`
	// BurstTimeout ends a received burst whose last packet and floor
	// release were both lost; silence alone never ends one.
	BurstTimeout Duration `yaml:"burst_timeout"`
	// ToneVolume is the loudness of the floor tones, 0–1 of full scale.
	ToneVolume float64 `yaml:"tone_volume"`
	// Volume is the speaker's level at first start, 1 (quietest) to 10
	// (full), 3 dB a step; the volume keys change it and the handset keeps
	// the user's choice across reboots.
	Volume int `yaml:"volume"`
	// Pace paces the sound card to the wall clock: for cards made of files
	// (ALSA's file plugin on a bench or in tests), which run as fast as the
	// CPU. A real card paces itself; leave it off.
	Pace bool `yaml:"pace"`
	// UDP sends and receives voice over UDP (SRTP, keyed over MQTT) when
	// the platform offers a media relay, falling back to MQTT by itself
	// whenever UDP does not get through.
	UDP bool `yaml:"udp"`
	// MQTTVoiceCopy lets a second broker connection carry a copy of the
	// voice while it comes over MQTT, around talk: "auto" when the
	// platform's capabilities offer it, "on", "off" (docs/config.md).
	MQTTVoiceCopy string `yaml:"mqtt_voice_copy"`
}

// Recordings: each talk burst is kept as an Ogg Opus file in
// state_dir/recordings until the platform has it.
type Recordings struct {
	// Enabled records and uploads bursts (needs a platform).
	Enabled bool `yaml:"enabled"`
	// MaxQueueMB bounds the recordings waiting on disk; beyond it the
	// oldest are dropped and counted.
	MaxQueueMB int `yaml:"max_queue_mb"`
}

type Board struct {
	// SysfsRoot is where /sys is (moved only for tests and benches).
	SysfsRoot string `yaml:"sysfs_root"`
	// InputDevice is the Linux input device of keys given as KEY_ codes.
	InputDevice string `yaml:"input_device"`
	// InputGrab takes the input device for the agent alone.
	InputGrab bool `yaml:"input_grab"`
	// GPIOChip holds keys given as gpio:N.
	GPIOChip string `yaml:"gpio_chip"`
	// GPIOActiveLow: a pressed key pulls its line low.
	GPIOActiveLow bool `yaml:"gpio_active_low"`
	// GPIOBias: pull-up, pull-down, disable, or "" to leave as is.
	GPIOBias string `yaml:"gpio_bias"`
	// Debounce ignores contact bounce for this long after an edge.
	Debounce Duration `yaml:"debounce"`
	// BenchSocket, if set, is a unix socket where "ptt down"/"ptt up" press
	// keys without hardware.
	BenchSocket string    `yaml:"bench_socket"`
	Keys        BoardKeys `yaml:"keys"`
	LEDs        LEDs      `yaml:"leds"`
	// Battery is the power_supply name; "" = the first of type Battery,
	// "none" = no battery.
	Battery string `yaml:"battery"`
	// LowBattery (percent) triggers the low-battery prompt.
	LowBattery int `yaml:"low_battery"`
}

// BoardKeys say where each key is: a key code on input_device ("KEY_F1", "59",
// "0x3b"), "gpio:N" for line N of gpio_chip, or "" for none.
type BoardKeys struct {
	PTT        string `yaml:"ptt"`
	GroupUp    string `yaml:"group_up"`
	GroupDown  string `yaml:"group_down"`
	VolumeUp   string `yaml:"volume_up"`
	VolumeDown string `yaml:"volume_down"`
	// SOS raises an emergency alert when held for emergency.long_press.
	SOS string `yaml:"sos"`
}

// LEDs are /sys/class/leds names; "" = none.
type LEDs struct {
	Transmitting string `yaml:"transmitting"`
	Receiving    string `yaml:"receiving"`
	Online       string `yaml:"online"`
}

type Floor struct {
	// TalkTime is the talk-time limit when the platform announces none
	// (the corp API has none); 0s = unlimited.
	TalkTime Duration `yaml:"talk_time"`
	// Warning is how long before the limit the warning tone sounds.
	Warning Duration `yaml:"warning"`
	// ResponseTimeout is how long a floor request waits for the platform.
	ResponseTimeout Duration `yaml:"response_timeout"`
}

type TTS struct {
	// Enabled is the member's tts until the platform says otherwise.
	Enabled bool `yaml:"enabled"`
	// Voice is an espeak-ng voice: "" (English), "cmn" (Mandarin), … (espeak-ng --voices).
	Voice string `yaml:"voice"`
	// Speed in words per minute.
	Speed int `yaml:"speed"`
	// Volume of prompts, 0–1 of full scale.
	Volume float64 `yaml:"volume"`
	// Command is the espeak-ng binary.
	Command string `yaml:"command"`
	// MaxText bounds a text message or notice read aloud, in characters;
	// a longer one is cut, and the prompt says so.
	MaxText int `yaml:"max_text"`
}

func pttDefaults(c *Config) {
	c.Audio = Audio{
		Bitrate:         20000,
		Complexity:      5,
		ExpectedLoss:    5,
		FramesPerPacket: 3,
		// Over UDP each packet repeats the last frame of the one before:
		// with 2 frames a packet a single lost packet is rebuilt whole
		// (one frame from the repeat, the other from its in-band FEC),
		// and every listener hears 20 ms sooner, for ~25 % more bytes on
		// the air than 3 frames with their repeat.
		UDPFramesPerPacket: 2,
		// Only until the speaker's link is measured (a few packets): a
		// little margin over a clean link, which needs none.
		JitterTarget: Duration(40 * time.Millisecond),
		// Longer than a handover stall's backlog (1–2 s), which is played
		// faster, not dropped.
		JitterMax:     Duration(4 * time.Second),
		BurstTimeout:  Duration(5 * time.Second),
		ToneVolume:    0.5,
		Volume:        8,
		UDP:           true,
		MQTTVoiceCopy: "auto",
	}
	c.Board = Board{
		SysfsRoot:     "/sys",
		InputGrab:     true,
		GPIOChip:      "gpiochip0",
		GPIOActiveLow: true,
		Debounce:      Duration(20 * time.Millisecond),
		LowBattery:    15,
	}
	c.Floor = Floor{
		TalkTime:        Duration(60 * time.Second),
		Warning:         Duration(5 * time.Second),
		ResponseTimeout: Duration(3 * time.Second),
	}
	c.TTS = TTS{Enabled: true, Speed: 160, Volume: 0.8, Command: "espeak-ng"}
	c.Recordings = Recordings{Enabled: true, MaxQueueMB: 100}
}

// KeySpec is one parsed board.keys entry.
type KeySpec struct {
	Code uint16 // for input_device
	GPIO int    // line offset, or -1
}

// ParseKeySpec reads a board.keys value ("" gives ok false).
func ParseKeySpec(s string) (spec KeySpec, ok bool, err error) {
	if s == "" {
		return KeySpec{GPIO: -1}, false, nil
	}
	if line, found := strings.CutPrefix(s, "gpio:"); found {
		n, err := strconv.Atoi(line)
		if err != nil || n < 0 || n > 511 {
			return KeySpec{}, false, &keySpecError{s}
		}
		return KeySpec{GPIO: n}, true, nil
	}
	code, err := board.ParseKeyCode(s)
	if err != nil {
		return KeySpec{}, false, err
	}
	return KeySpec{Code: code, GPIO: -1}, true, nil
}

type keySpecError struct{ s string }

func (e *keySpecError) Error() string {
	return "\"" + e.s + "\": write gpio:N with N the line offset on gpio_chip (0–511)"
}

func (c *Config) validatePTT(v *validation) {
	a := &c.Audio
	v.intBetween("audio.bitrate", a.Bitrate, 6000, 64000)
	v.intBetween("audio.complexity", a.Complexity, 0, 10)
	v.intBetween("audio.expected_loss", a.ExpectedLoss, 0, 50)
	v.intBetween("audio.frames_per_packet", a.FramesPerPacket, 1, 10)
	if a.FramesPerPacket > 3 {
		v.warn("audio.frames_per_packet", "%d frames (%d ms) per message add that much to every listener's delay; 2–3 is usual", a.FramesPerPacket, 20*a.FramesPerPacket)
	}
	v.intBetween("audio.udp_frames_per_packet", a.UDPFramesPerPacket, 1, 10)
	switch a.MQTTVoiceCopy {
	case "auto", "on", "off":
	default:
		v.err("audio.mqtt_voice_copy", "%q: use auto (when the platform says its broker takes the voice login), on or off", a.MQTTVoiceCopy)
	}
	v.between("audio.jitter_target", a.JitterTarget, 0, 2*time.Second)
	v.between("audio.jitter_max", a.JitterMax, max(a.JitterTarget.D(), time.Second), 10*time.Second)
	v.between("audio.burst_timeout", a.BurstTimeout, time.Second, time.Minute)
	for key, d := range map[string]Duration{"audio.jitter_target": a.JitterTarget, "audio.jitter_max": a.JitterMax} {
		if d.D()%(20*time.Millisecond) != 0 {
			v.err(key, "%s is not a whole number of 20 ms frames; use e.g. 60ms", d)
		}
	}
	if a.BurstTimeout.D() > 0 && a.BurstTimeout.D() < 2*time.Second {
		v.warn("audio.burst_timeout", "%s is shorter than a handover stall (1–2 s): a burst could end in one and the rest of it be dropped; 5s is usual", a.BurstTimeout)
	}
	if a.Volume < 1 || a.Volume > 10 {
		v.err("audio.volume", "%d is out of range; use 1 (quietest) to 10 (full)", a.Volume)
	}
	if a.ToneVolume < 0 || a.ToneVolume > 1 {
		v.err("audio.tone_volume", "%g is out of range; use 0 (silent) to 1 (full scale)", a.ToneVolume)
	}

	b := &c.Board
	if b.SysfsRoot == "" {
		v.err("board.sysfs_root", "must not be empty (normally /sys)")
	}
	usesInput, usesGPIO, lines := false, false, map[int]string{}
	for key, s := range map[string]string{
		"board.keys.ptt": b.Keys.PTT, "board.keys.group_up": b.Keys.GroupUp, "board.keys.group_down": b.Keys.GroupDown,
		"board.keys.volume_up": b.Keys.VolumeUp, "board.keys.volume_down": b.Keys.VolumeDown, "board.keys.sos": b.Keys.SOS,
	} {
		spec, ok, err := ParseKeySpec(s)
		switch {
		case err != nil:
			v.err(key, "%v", err)
		case !ok:
		case spec.GPIO >= 0:
			usesGPIO = true
			if other, dup := lines[spec.GPIO]; dup {
				v.err(key, "gpio:%d is also %s", spec.GPIO, other)
			}
			lines[spec.GPIO] = key
		default:
			usesInput = true
		}
	}
	if usesInput && b.InputDevice == "" {
		v.err("board.input_device", "keys are given as key codes but no input device is set; e.g. /dev/input/by-path/platform-gpio-keys-event")
	}
	if usesGPIO && b.GPIOChip == "" {
		v.err("board.gpio_chip", "keys are given as gpio:N but no chip is set; e.g. gpiochip0")
	}
	switch b.GPIOBias {
	case "", "pull-up", "pull-down", "disable":
	default:
		v.err("board.gpio_bias", "%q: use pull-up, pull-down, disable or leave it empty", b.GPIOBias)
	}
	v.between("board.debounce", b.Debounce, 0, 200*time.Millisecond)
	v.intBetween("board.low_battery", b.LowBattery, 0, 100)

	f := &c.Floor
	if f.TalkTime != 0 {
		v.between("floor.talk_time", f.TalkTime, time.Second, time.Hour)
	}
	if f.TalkTime != 0 && f.Warning >= f.TalkTime {
		v.err("floor.warning", "%s is not shorter than floor.talk_time %s", f.Warning, f.TalkTime)
	}
	v.between("floor.warning", f.Warning, 0, time.Minute)
	v.between("floor.response_timeout", f.ResponseTimeout, 500*time.Millisecond, 30*time.Second)

	v.intBetween("recordings.max_queue_mb", c.Recordings.MaxQueueMB, 1, 100000)

	t := &c.TTS
	if t.Speed != 0 {
		v.intBetween("tts.speed", t.Speed, 80, 450)
	}
	if t.Volume < 0 || t.Volume > 1 {
		v.err("tts.volume", "%g is out of range; use 0 to 1", t.Volume)
	}
	if t.Command == "" {
		v.err("tts.command", "must not be empty (normally espeak-ng)")
	} else if _, err := exec.LookPath(t.Command); err != nil && t.Enabled {
		v.warn("tts.command", "%s is not installed here (%v); voice prompts will be skipped: apt-get install espeak-ng", t.Command, err)
	}
}
