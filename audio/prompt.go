package audio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
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
	// MaxSpeech bounds one rendered prompt (0: DefaultMaxSpeech); what
	// espeak-ng says beyond it is cut, and espeak-ng stopped.
	MaxSpeech time.Duration
}

// Bounds of the prompts. A 120 KB text message once took the listener
// from 18 MB to 1.6 GB and two hours of speech: every stage is bounded
// now — the text a caller hands over (agent/ptt cuts messages shorter and
// says so), the speech rendered from one text, what waits to be rendered,
// and what is rendered ahead of the speaker.
const (
	// DefaultMaxSpeech is the longest one prompt plays.
	DefaultMaxSpeech = 60 * time.Second
	// MaxPromptText is the most text Say takes (bytes, cut at a character
	// boundary): far more than DefaultMaxSpeech of speech.
	MaxPromptText = 4 << 10
	// DefaultMaxQueue bounds what waits for its turn (bytes of text, and
	// of clips: 2 bytes a sample).
	DefaultMaxQueue = 8 << 20
	// DefaultMaxAhead is how much rendered speech may wait on the speaker:
	// the next prompt is rendered while this one plays, not all at once.
	DefaultMaxAhead = 20 * time.Second
)

// maxWAVRate is the highest sample rate the speech's byte bound allows
// for (espeak-ng writes 22050 Hz).
const maxWAVRate = 48000

// Render speaks text into 16 kHz samples, padded to whole frames, at most
// MaxSpeech long.
func (t TTS) Render(ctx context.Context, text string) ([]int16, error) {
	pcm, _, err := t.RenderCut(ctx, text)
	return pcm, err
}

// RenderCut is Render that also says whether the speech was cut at
// MaxSpeech. espeak-ng's output is read through a bound: it is stopped
// once it has said more than that, so neither its output nor the decoded
// samples ever hold more.
func (t TTS) RenderCut(ctx context.Context, text string) (pcm []int16, cut bool, err error) {
	cmd := t.Command
	if cmd == "" {
		cmd = "espeak-ng"
	}
	maxSpeech := t.MaxSpeech
	if maxSpeech <= 0 {
		maxSpeech = DefaultMaxSpeech
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
	var stderr boundedBuffer
	stderr.max = 4 << 10
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, false, fmt.Errorf("tts %s: %w", cmd, err)
	}
	if err := c.Start(); err != nil {
		return nil, false, fmt.Errorf("tts %s (voice %q): %w", cmd, t.Voice, err)
	}
	limit := int64(wavHeaderMax + maxSpeech.Seconds()*maxWAVRate*2)
	data, rerr := io.ReadAll(io.LimitReader(stdout, limit+1))
	if int64(len(data)) > limit {
		data, cut = data[:limit], true
		c.Process.Kill() // it has said more than will be played
	}
	if werr := c.Wait(); werr != nil && !cut {
		return nil, false, fmt.Errorf("tts %s (voice %q): %w: %s", cmd, t.Voice, werr, bytes.TrimSpace(stderr.b))
	}
	if rerr != nil {
		return nil, false, fmt.Errorf("tts %s: %w", cmd, rerr)
	}
	rate, pcm, err := DecodeWAV(data)
	if err != nil {
		return nil, false, fmt.Errorf("tts %s: %w", cmd, err)
	}
	if len(pcm) == 0 {
		return nil, false, fmt.Errorf("tts %s (voice %q): no speech for %q", cmd, t.Voice, clip(text, 80))
	}
	pcm = Resample(pcm, rate, SampleRate)
	if n := int(maxSpeech.Seconds() * SampleRate); len(pcm) > n {
		pcm, cut = pcm[:n], true
	}
	vol := t.Volume
	if vol <= 0 || vol > 1 {
		vol = 1
	}
	for i, s := range pcm {
		pcm[i] = int16(float64(s) * vol)
	}
	return padFrames(pcm), cut, nil
}

// wavHeaderMax is room for a WAV header with a few extra chunks.
const wavHeaderMax = 1 << 10

// padFrames pads pcm with silence to whole frames.
func padFrames(pcm []int16) []int16 {
	if r := len(pcm) % FrameSamples; r != 0 {
		pcm = append(pcm, make([]int16, FrameSamples-r)...)
	}
	return pcm
}

// boundedBuffer keeps the first max bytes written to it (espeak-ng's
// complaints, for the error) and discards the rest.
type boundedBuffer struct {
	b   []byte
	max int
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// clip shortens s to at most n bytes at a character boundary, for logs.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Prompter turns text into speech on the Output, one prompt after the
// other, and plays recorded clips (missed voice messages) in the same
// order. Speech is rendered ahead (espeak-ng takes ~100 ms) while the
// previous prompt plays, but no more than MaxAhead ahead: what waits is
// kept as text, bounded in bytes, not as audio.
type Prompter struct {
	tts TTS
	out *Output
	// MaxQueue bounds the bytes waiting (texts, clips); MaxAhead the
	// rendered speech handed to the speaker and not yet played. Set them
	// before Run; NewPrompter sets the defaults.
	MaxQueue int
	MaxAhead time.Duration
	Logger   *slog.Logger

	depth int
	mu    sync.Mutex
	queue []promptItem
	bytes int
	wake  chan struct{}
	cut   uint64
	busy  bool // an item is out of the queue, not yet handed to the speaker
}

// promptItem is a text to speak or a clip to play.
type promptItem struct {
	text string
	pcm  []int16
}

func (it promptItem) size() int { return len(it.text) + 2*len(it.pcm) }

// NewPrompter queues at most depth texts or clips, and at most
// DefaultMaxQueue bytes of them.
func NewPrompter(tts TTS, out *Output, depth int) *Prompter {
	return &Prompter{tts: tts, out: out, depth: max(1, depth), MaxQueue: DefaultMaxQueue, MaxAhead: DefaultMaxAhead,
		wake: make(chan struct{}, 1)}
}

// Say queues text, cut to MaxPromptText bytes; ErrQueueFull when depth
// prompts or MaxQueue bytes already wait.
func (p *Prompter) Say(text string) error {
	if len(text) > MaxPromptText {
		text = strings.TrimSuffix(clip(text, MaxPromptText), "…")
	}
	return p.push(promptItem{text: text})
}

// Play queues a clip of 16 kHz samples to play after the prompts before
// it, cut to the TTS's MaxSpeech; ErrQueueFull as Say.
func (p *Prompter) Play(pcm []int16) error {
	if n := int(p.maxSpeech().Seconds() * SampleRate); len(pcm) > n {
		pcm = pcm[:n]
		p.mu.Lock()
		p.cut++
		p.mu.Unlock()
	}
	return p.push(promptItem{pcm: padFrames(pcm)})
}

func (p *Prompter) maxSpeech() time.Duration {
	if p.tts.MaxSpeech > 0 {
		return p.tts.MaxSpeech
	}
	return DefaultMaxSpeech
}

func (p *Prompter) push(it promptItem) error {
	p.mu.Lock()
	if len(p.queue) >= p.depth || p.bytes+it.size() > p.MaxQueue {
		p.mu.Unlock()
		return ErrQueueFull
	}
	p.queue = append(p.queue, it)
	p.bytes += it.size()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Queued is how many prompts and clips wait, and their bytes.
func (p *Prompter) Queued() (n, bytes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue), p.bytes
}

// Pending is how many prompts and clips are not yet on the speaker:
// queued, being rendered, or waiting for the speaker's MaxAhead.
func (p *Prompter) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.queue)
	if p.busy {
		n++
	}
	return n
}

// Cut counts prompts and clips cut at MaxSpeech.
func (p *Prompter) Cut() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *Prompter) pop() (promptItem, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return promptItem{}, false
	}
	it := p.queue[0]
	p.queue[0] = promptItem{}
	p.queue = p.queue[1:]
	p.bytes -= it.size()
	p.busy = true
	return it, true
}

// handed notes that the item popped last is on the speaker, or gone.
func (p *Prompter) handed() {
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
}

// aheadPoll is how often a Prompter that is MaxAhead ahead of the speaker
// looks again: only then, and only while prompts wait.
const aheadPoll = 100 * time.Millisecond

// Run renders and queues prompts until ctx ends. A prompt that cannot be
// rendered is logged and skipped: a missing voice must not stop the agent.
func (p *Prompter) Run(ctx context.Context) error {
	defer p.handed()
	for {
		it, ok := p.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-p.wake:
			}
			continue
		}
		pcm := it.pcm
		if it.text != "" {
			var cut bool
			var err error
			pcm, cut, err = p.tts.RenderCut(ctx, it.text)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if p.Logger != nil {
					p.Logger.Warn("voice prompt not spoken", "text", clip(it.text, 200), "err", err)
				}
				p.handed()
				continue
			}
			if cut {
				p.mu.Lock()
				p.cut++
				p.mu.Unlock()
				if p.Logger != nil {
					p.Logger.Warn("voice prompt cut short", "text", clip(it.text, 200), "max", p.maxSpeech())
				}
			}
		}
		for p.out.PromptBacklog() > p.MaxAhead {
			t := time.NewTimer(aheadPoll)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		p.out.PlayPrompt(pcm)
		p.handed()
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
