package config

import (
	"strings"
	"testing"
	"time"
)

func TestPTTDefaults(t *testing.T) {
	cfg, _, err := Parse("/etc/pttagent/agent.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Audio.Bitrate < 16000 || cfg.Audio.Bitrate > 24000 || cfg.Audio.FramesPerPacket != 3 ||
		cfg.Audio.JitterTarget.D() != 40*time.Millisecond || cfg.Audio.JitterMax.D() != 4*time.Second || cfg.Audio.BurstTimeout.D() != 5*time.Second || cfg.Floor.TalkTime.D() != time.Minute ||
		!cfg.TTS.Enabled || cfg.Board.SysfsRoot != "/sys" || cfg.Board.Debounce.D() != 20*time.Millisecond {
		t.Fatalf("PTT defaults: %+v %+v %+v %+v", cfg.Audio, cfg.Board, cfg.Floor, cfg.TTS)
	}
}

func TestPTTProblems(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"audio:\n  bitrate: 128000\n", "audio.bitrate: 128000 is out of range"},
		{"audio:\n  jitter_target: 50ms\n", "audio.jitter_target: 50ms is not a whole number of 20 ms frames"},
		{"audio:\n  jitter_target: 100ms\n  jitter_max: 300ms\n", "audio.jitter_max: 300ms is out of range"},
		{"audio:\n  jitter_target: 1500ms\n  jitter_max: 1s\n", "audio.jitter_max: 1s is out of range"},
		{"audio:\n  jitter_max: 20s\n", "audio.jitter_max: 20s is out of range"},
		{"audio:\n  burst_timeout: 500ms\n", "audio.burst_timeout: 500ms is out of range"},
		{"audio:\n  tone_volume: 2\n", "audio.tone_volume: 2 is out of range"},
		{"board:\n  keys:\n    ptt: KEY_F1\n", "board.input_device: keys are given as key codes but no input device is set"},
		{"board:\n  keys:\n    ptt: KEY_WHAT\n", "board.keys.ptt: key code \"KEY_WHAT\""},
		{"board:\n  keys:\n    ptt: gpio:x\n", "board.keys.ptt: \"gpio:x\": write gpio:N"},
		{"board:\n  keys:\n    ptt: gpio:4\n    volume_up: gpio:4\n", "is also board.keys"},
		{"board:\n  gpio_bias: floating\n", "board.gpio_bias: \"floating\""},
		{"floor:\n  talk_time: 10s\n  warning: 10s\n", "floor.warning: 10s is not shorter than floor.talk_time"},
		{"tts:\n  speed: 20\n", "tts.speed: 20 is out of range"},
	} {
		_, _, err := Parse("a.yaml", []byte(minimal+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant …%s…", tc.yaml, err, tc.want)
		}
	}
	// A burst timeout shorter than a handover stall: warned, not refused.
	_, warns, err := Parse("a.yaml", []byte(minimal+"audio:\n  burst_timeout: 1500ms\n"))
	if err != nil || len(warns) == 0 || !strings.Contains(warns[0].Error(), "shorter than a handover stall") {
		t.Errorf("burst_timeout 1500ms: %v %v", warns, err)
	}
	// A target of 0 is valid: start on the first packet.
	if _, _, err := Parse("a.yaml", []byte(minimal+"audio:\n  jitter_target: 0s\n")); err != nil {
		t.Errorf("jitter_target 0s: %v", err)
	}
	good := minimal + "board:\n  input_device: /dev/input/event0\n  keys:\n    ptt: KEY_F1\n    group_up: gpio:17\n    volume_up: \"0x73\"\nfloor:\n  talk_time: 0s\n"
	if _, _, err := Parse("a.yaml", []byte(good)); err != nil {
		t.Fatalf("valid PTT config refused: %v", err)
	}
	for s, want := range map[string]KeySpec{"KEY_F1": {Code: 59, GPIO: -1}, "gpio:17": {GPIO: 17}, "0x73": {Code: 115, GPIO: -1}} {
		if got, ok, err := ParseKeySpec(s); !ok || err != nil || got != want {
			t.Errorf("%s: %+v %v %v", s, got, ok, err)
		}
	}
}
