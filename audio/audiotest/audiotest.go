// Package audiotest gives tests a real sound card without hardware — ALSA's
// file plugin behind PortAudio — speech from espeak-ng, signal measures,
// and fakes of audio.Capturer and audio.Player.
package audiotest

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
)

// Card is a sound card made of files: PortAudio's "filein" device (and the
// default capture device) reads In as raw 16-bit mono samples; "fileout"
// (and the default playback device) writes Out as a WAV file. ALSA reads
// its configuration from ALSA_CONFIG_PATH, which UseCard sets for the whole
// test process: call it before any PortAudio stream is opened.
type Card struct {
	Dir    string
	Config string
	In     string // raw s16 native-endian mono; capture past its end repeats stale data
	Out    string // WAV, truncated each time a playback stream opens (raw for UseCards)
	// InDevice and OutDevice are the card's PortAudio device names.
	InDevice, OutDevice string
	raw                 bool
}

// NewCard writes the ALSA configuration for a file card in dir.
func NewCard(dir string) (*Card, error) {
	c := &Card{Dir: dir, Config: filepath.Join(dir, "asound.conf"), In: filepath.Join(dir, "in.raw"), Out: filepath.Join(dir, "out.wav"),
		InDevice: "filein", OutDevice: "fileout"}
	conf := fmt.Sprintf(`pcm.null { type null }
pcm.filein { type file slave.pcm "null" file "/dev/null" infile %q format "raw" }
pcm.fileout { type file slave.pcm "null" file %q format "wav" perm 0644 }
pcm.!default { type asym capture.pcm "filein" playback.pcm "fileout" }
`, c.In, c.Out)
	if err := os.WriteFile(c.Config, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.In, make([]byte, 2*audio.SampleRate), 0o644); err != nil {
		return nil, err
	}
	return c, nil
}

// UseCards makes several file cards in one ALSA configuration and makes
// it the process's (ALSA_CONFIG_PATH): ALSA and PortAudio read their
// configuration once per process, so tests that run several agents in one
// process give each its own card by name — PortAudio devices "{name}_in"
// (reading In, raw) and "{name}_out" (appending to Out, raw samples, kept
// across the stream's stops and starts). The default devices are silent
// null devices. The caller removes the returned directory.
func UseCards(names ...string) (dir string, cards map[string]*Card, err error) {
	dir, err = os.MkdirTemp("", "pttagent-cards-")
	if err != nil {
		return "", nil, err
	}
	cards = map[string]*Card{}
	var conf bytes.Buffer
	conf.WriteString("pcm.null { type null }\npcm.!default { type asym capture.pcm \"null\" playback.pcm \"null\" }\n")
	for _, n := range names {
		c := &Card{Dir: dir, Config: filepath.Join(dir, "asound.conf"), In: filepath.Join(dir, n+".in.raw"),
			Out: filepath.Join(dir, n+".out.raw"), InDevice: n + "_in", OutDevice: n + "_out", raw: true}
		fmt.Fprintf(&conf, "pcm.%s { type file slave.pcm \"null\" file \"/dev/null\" infile %q format \"raw\" }\n", c.InDevice, c.In)
		fmt.Fprintf(&conf, "pcm.%s { type file slave.pcm \"null\" file %q format \"raw\" perm 0644 }\n", c.OutDevice, c.Out)
		if err := os.WriteFile(c.In, make([]byte, 2*audio.SampleRate), 0o644); err != nil {
			return dir, nil, err
		}
		cards[n] = c
	}
	if err := os.WriteFile(filepath.Join(dir, "asound.conf"), conf.Bytes(), 0o644); err != nil {
		return dir, nil, err
	}
	return dir, cards, os.Setenv("ALSA_CONFIG_PATH", filepath.Join(dir, "asound.conf"))
}

// UseCard makes a card in a fresh temp dir the process's sound card; for
// TestMain (no *testing.T there), so the caller removes dir when done.
func UseCard() (*Card, error) {
	dir, err := os.MkdirTemp("", "pttagent-card-")
	if err != nil {
		return nil, err
	}
	c, err := NewCard(dir)
	if err != nil {
		return nil, err
	}
	return c, os.Setenv("ALSA_CONFIG_PATH", c.Config)
}

// SetInput makes samples what the microphone will capture, followed by
// pad of silence (capture past the end of the file repeats old data).
func (c *Card) SetInput(samples []int16, pad time.Duration) error {
	b := make([]byte, 0, 2*len(samples)+int(pad.Seconds()*audio.SampleRate)*2)
	for _, s := range samples {
		b = binary.NativeEndian.AppendUint16(b, uint16(s))
	}
	b = append(b, make([]byte, int(pad.Seconds()*audio.SampleRate)*2)...)
	return os.WriteFile(c.In, b, 0o644)
}

// Output returns what was played since the playback stream was opened.
func (c *Card) Output() ([]int16, error) {
	if c.raw {
		b, err := os.ReadFile(c.Out)
		if err != nil {
			return nil, err
		}
		s := make([]int16, len(b)/2)
		for i := range s {
			s[i] = int16(binary.NativeEndian.Uint16(b[2*i:]))
		}
		return s, nil
	}
	rate, s, err := ReadWAV(c.Out)
	if err != nil {
		return nil, err
	}
	if rate != audio.SampleRate {
		return nil, fmt.Errorf("%s: %d Hz, want %d", c.Out, rate, audio.SampleRate)
	}
	return s, nil
}

// ReadWAV reads a 16-bit PCM WAV file (see audio.DecodeWAV).
func ReadWAV(path string) (rate int, samples []int16, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	rate, samples, err = audio.DecodeWAV(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rate, samples, nil
}

// Speak renders text with espeak-ng (voice "" = its default) at 16 kHz.
func Speak(text, voice string) ([]int16, error) {
	dir, err := os.MkdirTemp("", "speak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	wav := filepath.Join(dir, "s.wav")
	args := []string{"-w", wav}
	if voice != "" {
		args = append(args, "-v", voice)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("espeak-ng", append(args, text)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %w: %s", err, stderr.String())
	}
	rate, s, err := ReadWAV(wav)
	if err != nil {
		return nil, err
	}
	return audio.Resample(s, rate, audio.SampleRate), nil
}

// SpeechText is the sentence the voice tests send: a radio call of about
// four seconds, with pauses between phrases.
const SpeechText = "Unit seven to base. Arriving at the north gate in five minutes, over."

var speech struct {
	once sync.Once
	pcm  []int16
	err  error
}

// Speech is SpeechText spoken by espeak-ng at 16 kHz, rendered once per
// test process. Callers must not modify it.
func Speech(t testing.TB) []int16 {
	t.Helper()
	NeedTools(t, "espeak-ng")
	speech.once.Do(func() { speech.pcm, speech.err = Speak(SpeechText, "en") })
	if speech.err != nil {
		t.Fatal(speech.err)
	}
	return speech.pcm
}

// NeedTools fails the test when a command the test needs is missing:
// .ci/deps installs them, so a missing one is a broken machine, not a
// reason to skip.
func NeedTools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (run .ci/deps): %v", tool, err)
		}
	}
}

// Align finds the lag (0…maxLag samples) at which got best matches ref
// and returns it with the normalised cross-correlation there, computed
// over ref's length (what is missing from got counts as silence). It
// searches coarsely on 8× decimated signals, then exactly around the best
// coarse lag, so a 4-second signal aligns in milliseconds.
func Align(ref, got []int16, maxLag int) (lag int, ncc float64) {
	const dec = 8
	cref, cgot := decimate(ref, dec), decimate(got, dec)
	coarse, _ := alignRange(cref, cgot, 0, maxLag/dec+1)
	lo := max(0, coarse*dec-2*dec)
	return alignRange(asFloat(ref), asFloat(got), lo, min(maxLag, coarse*dec+2*dec))
}

func asFloat(s []int16) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func decimate(s []int16, k int) []float64 {
	out := make([]float64, len(s)/k)
	for i := range out {
		var sum float64
		for _, v := range s[i*k : i*k+k] {
			sum += float64(v)
		}
		out[i] = sum / float64(k)
	}
	return out
}

func alignRange(ref, got []float64, from, to int) (lag int, ncc float64) {
	var eref float64
	for _, v := range ref {
		eref += v * v
	}
	best := math.Inf(-1)
	for l := from; l <= to; l++ {
		var dot, eg float64
		for i, v := range ref {
			if i+l >= len(got) {
				break
			}
			dot += v * got[i+l]
			eg += got[i+l] * got[i+l]
		}
		if eg == 0 || eref == 0 {
			continue
		}
		if c := dot / math.Sqrt(eref*eg); c > best {
			best, lag = c, l
		}
	}
	return lag, best
}

// LongestSilence is the longest run of exactly-zero samples in s: a gap in
// playback, as concealment never produces digital silence mid-burst.
func LongestSilence(s []int16) int {
	run, longest := 0, 0
	for _, v := range s {
		if v == 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// Capture is a fake microphone playing Signal then silence; each ReadFrame
// sleeps Pace (0: not paced), so a synctest bubble makes it real time.
type Capture struct {
	Signal []int16
	Pace   time.Duration
	// Err, when set, is what ReadFrame returns once Signal is played out:
	// a microphone that fails in use.
	Err error
	mu  sync.Mutex
	pos int
	on  bool
}

var _ audio.Capturer = (*Capture)(nil)

func (c *Capture) Start() error { c.mu.Lock(); c.on = true; c.mu.Unlock(); return nil }
func (c *Capture) Stop() error  { c.mu.Lock(); c.on = false; c.mu.Unlock(); return nil }
func (c *Capture) Close() error { return nil }
func (c *Capture) ReadFrame(pcm []int16) error {
	if c.Pace > 0 {
		time.Sleep(c.Pace)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return errors.New("fake capture: read while stopped")
	}
	if c.Err != nil && c.pos >= len(c.Signal) {
		return c.Err
	}
	for i := range pcm {
		pcm[i] = 0
		if c.pos < len(c.Signal) {
			pcm[i] = c.Signal[c.pos]
		}
		c.pos++
	}
	return nil
}

// Player is a fake speaker that keeps what it played; each WriteFrame
// sleeps Pace, like a device draining its buffer.
type Player struct {
	Pace   time.Duration
	mu     sync.Mutex
	played []int16
	starts int
	on     bool
}

var _ audio.Player = (*Player)(nil)

func (p *Player) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		return errors.New("fake player: started twice")
	}
	p.on = true
	p.starts++
	return nil
}
func (p *Player) Stop() error  { p.mu.Lock(); p.on = false; p.mu.Unlock(); return nil }
func (p *Player) Close() error { return nil }
func (p *Player) WriteFrame(pcm []int16) error {
	p.mu.Lock()
	if !p.on {
		p.mu.Unlock()
		return errors.New("fake player: write while stopped")
	}
	p.played = append(p.played, pcm...)
	p.mu.Unlock()
	if p.Pace > 0 {
		time.Sleep(p.Pace)
	}
	return nil
}

// Played returns a copy of everything played so far and how many times the
// player was started.
func (p *Player) Played() ([]int16, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.played...), p.starts
}

// Heard compares played audio with the speech that was sent, window by
// window, the way a listener would: for each voiced window of ref (win
// samples; voiced = RMS at least a tenth of ref's loudest window) it
// finds where it was played in got — later than the previous window's
// match, by at most the time between them in ref plus maxSlip samples, so
// stalls, skipped pauses and faster playout are all allowed — and returns
// the normalised cross-correlation there. A window that was lost or
// garbled scores low.
func Heard(ref, got []int16, win, maxSlip int) []float64 {
	const dec = 8
	cref, cgot := decimate(ref, dec), decimate(got, dec)
	fref, fgot := asFloat(ref), asFloat(got)
	// Prefix sums of got², for the energy under any window.
	e := make([]float64, len(fgot)+1)
	for i, v := range fgot {
		e[i+1] = e[i] + v*v
	}
	ce := make([]float64, len(cgot)+1)
	for i, v := range cgot {
		ce[i+1] = ce[i] + v*v
	}
	loudest := 0.0
	for r := 0; r+win <= len(ref); r += win {
		loudest = max(loudest, e2(fref[r:r+win]))
	}
	var out []float64
	gPrev, rPrev := 0, 0
	for r := 0; r+win <= len(ref); r += win {
		w := fref[r : r+win]
		if ew := e2(w); ew < loudest/100 {
			continue
		}
		// Played at most twice as fast as sent, and at most maxSlip late.
		lo, hi := max(0, gPrev+(r-rPrev)/2-win/2), min(len(got)-win, gPrev+(r-rPrev)+maxSlip)
		if hi < lo {
			out = append(out, 0)
			continue
		}
		// The coarse search on the decimated signals can be a pitch period
		// off: refine its best few candidates exactly.
		cw := cref[r/dec : (r+win)/dec]
		g, ncc := lo, 0.0
		for _, c := range topNCC(cw, cgot, ce, lo/dec, hi/dec, 4) {
			if cg, cn := bestNCC(w, fgot, e, max(lo, c*dec-2*dec), min(hi, c*dec+2*dec)); cn > ncc {
				g, ncc = cg, cn
			}
		}
		out = append(out, ncc)
		if ncc >= 0.5 { // a poor match is no anchor for the next window
			gPrev, rPrev = g, r
		}
	}
	return out
}

func e2(s []float64) float64 {
	var e float64
	for _, v := range s {
		e += v * v
	}
	return e
}

// bestNCC finds the offset in [from, to] where got best matches w; e are
// got's prefix sums of squares.
func bestNCC(w, got, e []float64, from, to int) (at int, ncc float64) {
	ew := e2(w)
	best := math.Inf(-1)
	at = from
	for g := from; g <= to && g+len(w) <= len(got); g++ {
		var dot float64
		for i, v := range w {
			dot += v * got[g+i]
		}
		eg := e[g+len(w)] - e[g]
		if eg <= 0 || ew <= 0 {
			continue
		}
		if c := dot / math.Sqrt(ew*eg); c > best {
			best, at = c, g
		}
	}
	return at, max(best, 0)
}

// topNCC returns the k offsets in [from, to] with the best NCC that are
// local maxima.
func topNCC(w, got, e []float64, from, to, k int) []int {
	ew := e2(w)
	type cand struct {
		at  int
		ncc float64
	}
	var all []cand
	prev, prev2 := math.Inf(-1), math.Inf(-1)
	for g := from; g <= to+1; g++ {
		c := math.Inf(-1)
		if g <= to && g+len(w) <= len(got) {
			var dot float64
			for i, v := range w {
				dot += v * got[g+i]
			}
			if eg := e[g+len(w)] - e[g]; eg > 0 && ew > 0 {
				c = dot / math.Sqrt(ew*eg)
			}
		}
		if prev > prev2 && prev >= c && !math.IsInf(prev, -1) {
			all = append(all, cand{g - 1, prev})
		}
		prev2, prev = prev, c
	}
	slices.SortFunc(all, func(a, b cand) int { return cmp.Compare(b.ncc, a.ncc) })
	out := []int{from}
	for i := 0; i < len(all) && i < k; i++ {
		out = append(out, all[i].at)
	}
	return out
}

func Fraction(scores []float64, threshold float64) float64 {
	if len(scores) == 0 {
		return 0
	}
	n := 0
	for _, s := range scores {
		if s >= threshold {
			n++
		}
	}
	return float64(n) / float64(len(scores))
}
