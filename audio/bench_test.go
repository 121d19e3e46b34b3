package audio_test

import (
	"testing"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/wire"
	"gopkg.in/hraban/opus.v2"
)

var encCfg = audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5}

func repeat(s []int16, n int) []int16 {
	out := make([]int16, 0, len(s)*n)
	for range n {
		out = append(out, s...)
	}
	return out
}

type sendPath struct {
	capt   *audio.PACapture
	pk     *audio.Packetizer
	pcm    []int16
	now    time.Time
	sent   int
	frames int
}

// sendInputFrames is how much speech the file card holds; the send path
// reopens the capture stream (which starts the file again) before it runs
// past the end, so it always encodes speech, like the reference.
const sendInputFrames = 4000

func newSendPath(t testing.TB) *sendPath {
	sp := speech(t)
	if err := card.SetInput(repeat(sp, sendInputFrames*audio.FrameSamples/len(sp)+1), time.Second); err != nil {
		t.Fatal(err)
	}
	enc, err := audio.NewEncoder(encCfg)
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := audio.NewPacketizer(enc, 3)
	pk.Begin(1)
	s := &sendPath{pk: pk, pcm: make([]int16, audio.FrameSamples), now: time.Unix(1763712000, 0)}
	s.open(t)
	t.Cleanup(func() { s.capt.Stop(); s.capt.Close() })
	return s
}

func (s *sendPath) open(t testing.TB) {
	if s.capt != nil {
		s.capt.Stop()
		s.capt.Close()
	}
	capt, err := audio.OpenCapture("filein")
	if err != nil {
		t.Fatal(err)
	}
	if err := capt.Start(); err != nil {
		t.Fatal(err)
	}
	s.capt, s.frames = capt, 0
}

// frame is one turn of the send path: capture buffer → encode → packet.
func (s *sendPath) frame(t testing.TB) {
	if err := s.capt.ReadFrame(s.pcm); err != nil {
		t.Fatal(err)
	}
	s.frames++
	p, err := s.pk.Add(s.pcm, s.now)
	if err != nil {
		t.Fatal(err)
	}
	if p != nil {
		s.sent += len(p)
	}
	s.now = s.now.Add(audio.FrameDuration)
}

type recvPath struct {
	play    *audio.PAPlayback
	rx      *audio.Receiver
	packets [][]byte
	i       int
	out     []int16
	now     time.Time
}

func newRecvPath(t testing.TB) *recvPath {
	// A second of encoded speech, as packets; played round and round with
	// the burst id and sequence numbers rewritten so it never ends.
	enc, _ := audio.NewEncoder(encCfg)
	pk, _ := audio.NewPacketizer(enc, 3)
	pk.Begin(7)
	sp := speech(t)
	var packets [][]byte
	for i := 0; i+audio.FrameSamples <= len(sp) && len(packets) < 17; i += audio.FrameSamples {
		if p, _ := pk.Add(sp[i:i+audio.FrameSamples], time.Now()); p != nil {
			packets = append(packets, append([]byte(nil), p...))
		}
	}
	play, err := audio.OpenPlayback("fileout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { play.Stop(); play.Close() })
	if err := play.Start(); err != nil {
		t.Fatal(err)
	}
	rx, err := audio.NewReceiver(audio.JitterConfig{Target: 3, Max: 200})
	if err != nil {
		t.Fatal(err)
	}
	return &recvPath{play: play, rx: rx, packets: packets, out: make([]int16, audio.FrameSamples), now: time.Unix(1763712000, 0)}
}

// packet is three turns of the receive path: packet → jitter → decode →
// playback buffer.
func (r *recvPath) packet(t testing.TB) {
	p := r.packets[r.i%len(r.packets)]
	// Sequence number of the i-th packet overall, so the stream goes on.
	seq := uint32(r.i * 3)
	p[8], p[9], p[10], p[11] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	r.i++
	if err := r.rx.Put("a", p, r.now); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		kind, err := r.rx.Next(r.now, r.out)
		if err != nil {
			t.Fatal(err)
		}
		if kind == audio.PlayFrame || kind == audio.PlayConceal {
			if err := r.play.WriteFrame(r.out); err != nil {
				t.Fatal(err)
			}
		}
		r.now = r.now.Add(audio.FrameDuration)
	}
}

func TestSendPathAllocatesNothing(t *testing.T) {
	s := newSendPath(t)
	for range 10 { // warm up: the first packet
		s.frame(t)
	}
	if a := testing.AllocsPerRun(300, func() { s.frame(t) }); a != 0 {
		t.Fatalf("%v allocations per frame on the send path", a)
	}
	if s.sent == 0 {
		t.Fatal("no packet was made")
	}
}

func TestReceivePathAllocatesNothing(t *testing.T) {
	r := newRecvPath(t)
	for range 5 {
		r.packet(t)
	}
	if a := testing.AllocsPerRun(100, func() { r.packet(t) }); a != 0 {
		t.Fatalf("%v allocations per packet (3 frames) on the receive path", a)
	}
	if s := r.rx.Stats(); s.Frames < 300 || s.Concealed != 0 || s.Late != 0 {
		t.Fatalf("the receive path did not play what it got: %+v", s)
	}
	if s := r.play.Stats(); s.Frames < 300 {
		t.Fatalf("playback: %+v", s)
	}
}

func reportAudioCPU(b *testing.B, framesPerOp int) {
	perFrame := float64(b.Elapsed().Nanoseconds()) / float64(b.N*framesPerOp)
	b.ReportMetric(perFrame, "ns/frame")
	b.ReportMetric(perFrame*50/1e6, "cpu-ms/s-audio")
}

// BenchmarkSendPath: PortAudio capture buffer → Opus encode → packet, per
// 20 ms frame.
func BenchmarkSendPath(b *testing.B) {
	s := newSendPath(b)
	b.ReportAllocs()
	for b.Loop() {
		if s.frames == sendInputFrames {
			b.StopTimer()
			s.open(b)
			b.StartTimer()
		}
		s.frame(b)
	}
	reportAudioCPU(b, 1)
}

// BenchmarkOpusEncodeReference is the plain libopus encode loop the send
// path is measured against: the same speech, the same settings, nothing
// else.
func BenchmarkOpusEncodeReference(b *testing.B) {
	enc, err := opus.NewEncoder(audio.SampleRate, 1, opus.AppVoIP)
	if err != nil {
		b.Fatal(err)
	}
	enc.SetBitrate(encCfg.Bitrate)
	enc.SetComplexity(encCfg.Complexity)
	enc.SetInBandFEC(true)
	enc.SetPacketLossPerc(encCfg.ExpectedLoss)
	sp := repeat(speech(b), sendInputFrames*audio.FrameSamples/len(speech(b))+1)[:sendInputFrames*audio.FrameSamples]
	out := make([]byte, wire.MaxOpusFrame)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i+audio.FrameSamples > len(sp) {
			i = 0
		}
		if _, err := enc.Encode(sp[i:i+audio.FrameSamples], out); err != nil {
			b.Fatal(err)
		}
		i += audio.FrameSamples
	}
	reportAudioCPU(b, 1)
}

// BenchmarkReceivePath: packet → jitter buffer → Opus decode → PortAudio
// playback buffer, per packet of 3 frames.
func BenchmarkReceivePath(b *testing.B) {
	r := newRecvPath(b)
	b.ReportAllocs()
	for b.Loop() {
		r.packet(b)
	}
	reportAudioCPU(b, 3)
}

// catchUpPath is the receive path playing a backlog faster: packets keep
// coming faster than real time (rate frames per turn), so the buffer is
// always behind — by lead frames or more. With a stall's backlog
// (newCatchUpPath: 600 ms, 25 % faster) every turn decodes about 1.25
// frames, leaves out the quiet ones and time-compresses the rest
// (libsonic); with a late packet's (newGiveBackPath: 100 ms, 5 % faster)
// it leaves out quiet frames and pitch periods (accelerate.go).
type catchUpPath struct {
	*recvPath
	turns, frames int
	lead          int
	rate          float64
}

func newCatchUpPath(t testing.TB) *catchUpPath { return newBehindPath(t, 30, 1.25) }

func newGiveBackPath(t testing.TB) *catchUpPath { return newBehindPath(t, 5, 1.05) }

func newBehindPath(t testing.TB, lead int, rate float64) *catchUpPath {
	c := &catchUpPath{recvPath: newRecvPath(t), lead: lead, rate: rate}
	for c.frames < lead { // a backlog to start with
		c.put(t)
	}
	return c
}

func (c *catchUpPath) put(t testing.TB) {
	p := c.packets[c.i%len(c.packets)]
	seq := uint32(c.i * 3)
	p[8], p[9], p[10], p[11] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	c.i++
	c.frames += 3
	if err := c.rx.Put("a", p, c.now); err != nil {
		t.Fatal(err)
	}
}

// turn is one 20 ms turn of output.
func (c *catchUpPath) turn(t testing.TB) {
	for c.frames < c.lead+int(float64(c.turns)*c.rate) {
		c.put(t)
	}
	c.turns++
	kind, err := c.rx.Next(c.now, c.out)
	if err != nil {
		t.Fatal(err)
	}
	if kind == audio.PlayFrame || kind == audio.PlayConceal || kind == audio.PlayStall {
		if err := c.play.WriteFrame(c.out); err != nil {
			t.Fatal(err)
		}
	}
	c.now = c.now.Add(audio.FrameDuration)
}

// behindAllocatesNothing warms c up, then checks a turn allocates nothing
// and the path did what it is for (ok on its stats).
func behindAllocatesNothing(t *testing.T, c *catchUpPath, what string, ok func(audio.JitterStats) bool) {
	t.Helper()
	for range 50 {
		c.turn(t)
	}
	if a := testing.AllocsPerRun(300, func() { c.turn(t) }); a != 0 {
		t.Fatalf("%v allocations per turn while %s", a, what)
	}
	if s := c.rx.Stats(); !ok(s) || s.Late != 0 || s.Trimmed != 0 {
		t.Fatalf("the path did not do its work while %s: %+v", what, s)
	}
}

func TestCatchUpPathAllocatesNothing(t *testing.T) {
	behindAllocatesNothing(t, newCatchUpPath(t), "catching up", func(s audio.JitterStats) bool {
		return s.CompressedMs >= 500 && s.SilenceSkipped != 0
	})
}

func TestGiveBackPathAllocatesNothing(t *testing.T) {
	behindAllocatesNothing(t, newGiveBackPath(t), "giving back (pitch periods left out)", func(s audio.JitterStats) bool {
		return s.CompressedMs != 0
	})
}

// BenchmarkReceivePathGivingBack: as BenchmarkReceivePath, while a late
// packet's excess is given back; per 20 ms of audio played.
func BenchmarkReceivePathGivingBack(b *testing.B) {
	s := benchBehind(b, newGiveBackPath(b))
	b.ReportMetric(float64(s.DelayMs-s.TargetMs), "excess-ms")
}

// BenchmarkReceivePathCatchingUp: as BenchmarkReceivePath, while a
// backlog is played faster; per 20 ms of audio played.
func BenchmarkReceivePathCatchingUp(b *testing.B) { benchBehind(b, newCatchUpPath(b)) }

// benchBehind runs c's turns as the benchmark's loop and reports the CPU
// per second of audio, frames in per frame out and the share compressed.
func benchBehind(b *testing.B, c *catchUpPath) audio.JitterStats {
	b.ReportAllocs()
	for b.Loop() {
		c.turn(b)
	}
	reportAudioCPU(b, 1)
	s := c.rx.Stats()
	b.ReportMetric(float64(c.frames)/float64(c.turns), "frames-in/frame-out")
	b.ReportMetric(float64(s.CompressedMs)/float64(c.turns*20), "compressed/played")
	return s
}
