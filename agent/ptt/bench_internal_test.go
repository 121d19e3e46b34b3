package ptt

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"gopkg.in/hraban/opus.v2"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/audio/audiotest"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/mqtt/mqtttest"
	"github.com/pttagent/pttagent/uplink/recording"
	"github.com/pttagent/pttagent/wire"
)

// The voice paths as push-to-talk wires them, per 20 ms frame, on the
// real parts (PortAudio on a file card, Opus, the Ogg recording on disk,
// paho publishing to mosquitto), against a plain libopus encode loop of
// the same speech in the same run:
//
//	go test -c -o /tmp/ptt.test ./agent/ptt && cd agent/ptt
//	for i in 1 2 3 4 5 6 7; do /tmp/ptt.test -test.run '^$' \
//	  -test.bench 'WiredSendPath|OpusReference|WiredReceivePath' \
//	  -test.benchtime 3000x -test.benchmem 2>/dev/null | grep ^Benchmark; done

// benchFrames bounds b.N: the microphone file holds that much speech (4 min).
const benchFrames = 12000

func benchSpeech(b *testing.B) []int16 {
	b.Helper()
	sp := audiotest.Speech(b)
	out := make([]int16, 0, benchFrames*audio.FrameSamples)
	for len(out) < cap(out) {
		out = append(out, sp[:min(len(sp), cap(out)-len(out))]...)
	}
	return out
}

// benchCard is the file card the benchmarks' PortAudio streams use, made
// before the first stream opens (ALSA reads its configuration once per
// process; the unit tests open none).
var benchCard = sync.OnceValues(func() (*audiotest.Card, error) {
	_, cards, err := audiotest.UseCards("a")
	if err != nil {
		return nil, err
	}
	return cards["a"], nil
})

func benchSound(b *testing.B) *sound {
	b.Helper()
	if b.N > benchFrames {
		b.Fatalf("at most %d frames (-benchtime %dx)", benchFrames, benchFrames)
	}
	card, err := benchCard()
	if err != nil {
		b.Fatal(err)
	}
	// The microphone file gets the speech before the stream opens (the
	// file plugin reads it from the start).
	if err := card.SetInput(benchSpeech(b), 0); err != nil {
		b.Fatal(err)
	}
	capt, err := audio.OpenCapture(card.InDevice)
	if err != nil {
		b.Fatal(err)
	}
	play, err := audio.OpenPlayback(card.OutDevice)
	if err != nil {
		capt.Close()
		b.Fatal(err)
	}
	snd, err := newSound(Sound{Capture: capt, Play: play, Latency: play.Latency()}, Audio{
		Encoder:         audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5},
		FramesPerPacket: 3, Jitter: audio.JitterConfig{Target: 5, Max: 15}, ToneVolume: 0.5, Volume: 8}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(snd.close)
	return snd
}

// BenchmarkWiredSendPath: microphone buffer → Opus → packet (3 frames) →
// the recording's Ogg page (OnFrame) → a copy for paho → MQTT publish, QoS
// 0, to a real broker.
func BenchmarkWiredSendPath(b *testing.B) {
	snd := benchSound(b)
	capt := snd.dev.Capture
	broker := mqtttest.Start(b, mqtttest.Options{})
	mq := mqtt.New(mqtt.Options{Brokers: []string{broker.URL()}, ClientID: "bench-send", KeepAlive: 30 * time.Second,
		ConnectTimeout: 5 * time.Second, ReconnectMin: time.Second, ReconnectMax: time.Second, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mq.Run(ctx)
	for up, _ := mq.State(); !up; up, _ = mq.State() {
		time.Sleep(10 * time.Millisecond)
	}
	q, err := recording.Open(b.TempDir(), 1<<30, nil)
	if err != nil {
		b.Fatal(err)
	}
	rec, err := q.Begin(recording.Meta{Account: "a", Group: 1, Burst: 1, BeginMs: time.Now().UnixMilli()})
	if err != nil {
		b.Fatal(err)
	}
	snd.pk.OnFrame = rec.Frame
	if err := snd.pk.Begin(1); err != nil {
		b.Fatal(err)
	}
	if err := capt.Start(); err != nil {
		b.Fatal(err)
	}
	defer capt.Stop()
	topic := wire.Topics{Prefix: "ptt", Account: "a"}.Voice(1)
	pub := func(p []byte) paho.Token { return mq.Publish(topic, 0, false, p) }
	var bufs voiceBuffers
	pcm := make([]int16, audio.FrameSamples)
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := capt.ReadFrame(pcm); err != nil {
			b.Fatal(err)
		}
		p, err := snd.pk.Add(pcm, now)
		if err != nil {
			b.Fatal(err)
		}
		if p != nil {
			bufs.publish(p, pub)
		}
	}
	b.StopTimer()
	if _, err := rec.End(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpusReference: a plain libopus encode loop with the same
// settings on the same speech, nothing else.
func BenchmarkOpusReference(b *testing.B) {
	sp := benchSpeech(b)
	enc, err := opus.NewEncoder(audio.SampleRate, 1, opus.AppVoIP)
	if err != nil {
		b.Fatal(err)
	}
	enc.SetBitrate(20000)
	enc.SetComplexity(5)
	enc.SetInBandFEC(true)
	enc.SetPacketLossPerc(5)
	out := make([]byte, wire.MaxOpusFrame)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := i % benchFrames
		if _, err := enc.Encode(sp[f*audio.FrameSamples:(f+1)*audio.FrameSamples], out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWiredReceivePath: push-to-talk's broker voice handler (gate, header,
// counters) → jitter buffer → Opus decode → the PortAudio playback
// buffer; per frame (3 per packet).
func BenchmarkWiredReceivePath(b *testing.B) {
	snd := benchSound(b)
	speaker := snd.dev.Play
	sp := benchSpeech(b)
	enc, _ := audio.NewEncoder(audio.EncoderConfig{Bitrate: 20000, Complexity: 5, ExpectedLoss: 5})
	pk, _ := audio.NewPacketizer(enc, 3)
	pk.Begin(7)
	var packets [][]byte
	for f := 0; f < benchFrames; f++ {
		if p, _ := pk.Add(sp[f*audio.FrameSamples:(f+1)*audio.FrameSamples], time.Now()); p != nil {
			packets = append(packets, append([]byte(nil), p...))
		}
	}
	p := New(Options{Account: "b", TopicPrefix: "ptt", StateDir: b.TempDir()}, Parts{})
	p.snd = snd
	p.listening.Store(&listenTo{group: 1, prefix: wire.GroupVoice("ptt", 1, "")})
	topic := wire.GroupVoice("ptt", 1, "a")
	if err := speaker.Start(); err != nil {
		b.Fatal(err)
	}
	defer speaker.Stop()
	pcm := make([]int16, audio.FrameSamples)
	t0 := time.Now()
	turn := 0
	play := func() {
		kind, err := snd.rx.Next(t0.Add(time.Duration(turn)*audio.FrameDuration), pcm)
		if err != nil {
			b.Fatal(err)
		}
		turn++
		if kind == audio.PlayFrame || kind == audio.PlayConceal {
			speaker.WriteFrame(pcm)
		}
	}
	// Fill the buffer to its target before measuring.
	next := 0
	for ; next < 3; next++ {
		p.onVoice(topic, packets[next])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%3 == 0 {
			p.onVoice(topic, packets[next%len(packets)])
			next++
		}
		play()
	}
	b.StopTimer()
	if s := p.Status(); s.VoiceReceived == 0 || s.VoiceBad != 0 {
		b.Fatalf("voice handler: %+v", s)
	}
}
