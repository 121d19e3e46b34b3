package audio

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
)

// TTS speaks text offline with espeak-ng (no network, unlike the cloud
// speech of other open-source PTT clients). Voices include Mandarin
// ("cmn"); `espeak-ng --voices` lists them.
type TTS struct {
	// Command is the espeak-ng binary (default "espeak-ng" on PATH).
	Command string
	// Voice is espeak-ng's -v (default: its own default, English).
	Voice string
	// Speed in words per minute (espeak-ng -s; 0 = its default 175).
	Speed int
	// Volume 0–1 of full scale applied to the speech.
	Volume float64
}

// Render speaks text into 16 kHz samples, padded to whole frames.
func (t TTS) Render(ctx context.Context, text string) ([]int16, error) {
	cmd := t.Command
	if cmd == "" {
		cmd = "espeak-ng"
	}
	args := []string{"--stdout"}
	if t.Voice != "" {
		args = append(args, "-v", t.Voice)
	}
	if t.Speed > 0 {
		args = append(args, "-s", strconv.Itoa(t.Speed))
	}
	// "--" so a text starting with '-' is spoken, not parsed as a flag.
	c := exec.CommandContext(ctx, cmd, append(args, "--", text)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("tts %s (voice %q): %w: %s", cmd, t.Voice, err, bytes.TrimSpace(stderr.Bytes()))
	}
	rate, pcm, err := DecodeWAV(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("tts %s: %w", cmd, err)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("tts %s (voice %q): no speech for %q", cmd, t.Voice, text)
	}
	pcm = Resample(pcm, rate, SampleRate)
	vol := t.Volume
	if vol <= 0 || vol > 1 {
		vol = 1
	}
	for i, s := range pcm {
		pcm[i] = int16(float64(s) * vol)
	}
	if r := len(pcm) % FrameSamples; r != 0 {
		pcm = append(pcm, make([]int16, FrameSamples-r)...)
	}
	return pcm, nil
}

// Prompter turns text into speech on the Output, one prompt after the
// other. Speech is rendered ahead (espeak-ng takes ~100 ms) while the
// previous prompt plays.
type Prompter struct {
	tts    TTS
	out    *Output
	queue  chan string
	Logger *slog.Logger
}

// NewPrompter queues at most depth texts.
func NewPrompter(tts TTS, out *Output, depth int) *Prompter {
	return &Prompter{tts: tts, out: out, queue: make(chan string, max(1, depth))}
}

// Say queues text; ErrQueueFull when depth texts are already waiting.
func (p *Prompter) Say(text string) error {
	select {
	case p.queue <- text:
		return nil
	default:
		return ErrQueueFull
	}
}

// Run renders and queues prompts until ctx ends. A prompt that cannot be
// rendered is logged and skipped: a missing voice must not stop the agent.
func (p *Prompter) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case text := <-p.queue:
			pcm, err := p.tts.Render(ctx, text)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if p.Logger != nil {
					p.Logger.Warn("voice prompt not spoken", "text", text, "err", err)
				}
				continue
			}
			p.out.PlayPrompt(pcm)
		}
	}
}

// CheckVoice reports whether espeak-ng knows t.Voice. espeak-ng itself
// falls back to its default voice without a word, so a typo in the config
// would otherwise go unnoticed until a Mandarin user hears English.
func (t TTS) CheckVoice(ctx context.Context) error {
	if t.Voice == "" {
		return nil
	}
	cmd := t.Command
	if cmd == "" {
		cmd = "espeak-ng"
	}
	out, err := exec.CommandContext(ctx, cmd, "--voices").Output()
	if err != nil {
		return fmt.Errorf("tts: %s --voices: %w", cmd, err)
	}
	want := strings.ToLower(t.Voice)
	for _, line := range strings.Split(string(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Language, voice name, or file (e.g. cmn, English_(America), gmw/en-US).
		if strings.ToLower(f[1]) == want || strings.ToLower(f[3]) == want || strings.ToLower(f[4]) == want ||
			strings.HasSuffix(strings.ToLower(f[4]), "/"+want) {
			return nil
		}
	}
	return fmt.Errorf("tts: espeak-ng has no voice %q (see espeak-ng --voices; Mandarin is cmn)", t.Voice)
}
