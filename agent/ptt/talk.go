package ptt

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/agent/floor"
	"github.com/pttagent/pttagent/audio/adapt"
	"github.com/pttagent/pttagent/uplink/recording"
	"github.com/pttagent/pttagent/wire"
)

// The talk path: microphone → Opus → packets → the link, on a goroutine
// of its own per burst. The loop starts and stops it; the goroutine
// touches nothing the loop owns.

// talkBurst is one burst being sent.
type talkBurst struct {
	group  int64
	burst  uint32
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has sent the last packet and stopped the microphone
	rec    *recording.Burst
	sent   atomic.Uint64 // packets
	// Written by the goroutine before done closes.
	frames uint32
	err    error
}

// ended is the burst's done channel, nil without a burst (a select case
// that never fires).
func (t *talkBurst) ended() <-chan struct{} {
	if t == nil {
		return nil
	}
	return t.done
}

// startTalk opens the microphone for a granted burst: packets go to the
// group, frames to the recording.
func (p *PTT) startTalk(group int64) {
	if p.talk != nil {
		return
	}
	if p.stale != nil {
		// The last burst's microphone never stopped: a second reader of
		// the same device would only make it worse.
		p.log.Error("the microphone is still held by the last burst; not talking", "group", group)
		return
	}
	t := &talkBurst{group: group, burst: rand.Uint32() | 1, done: make(chan struct{})}
	begin := time.Now()
	if p.recs != nil {
		name := ""
		if g := p.model.Group(group); g != nil {
			name = g.Name
		}
		rec, err := p.recs.Begin(recording.Meta{Account: p.o.Account, Group: group, GroupName: name,
			Burst: t.burst, BeginMs: begin.UnixMilli()})
		if err != nil {
			p.log.Error("burst not recorded", "err", err)
		} else {
			t.rec = rec
		}
	}
	if t.rec != nil {
		p.snd.pk.OnFrame = t.rec.Frame
	} else {
		p.snd.pk.OnFrame = nil
	}
	ctx, cancel := context.WithCancel(p.ctx)
	t.cancel = cancel
	p.talk = t
	p.talking.Store(true)
	p.voiceFlows()
	p.setLED(p.parts.LEDs.Transmitting, true)
	topic := p.topics.Voice(group)
	keyAt := p.keyAt
	tx, link, media, fpp := p.transmitter(), p.parts.Link, p.parts.Media, p.burstFramesPerPacket()
	if err := p.snd.pk.SetFramesPerPacket(fpp); err != nil {
		p.log.Error("frames per packet", "err", err) // the packetizer keeps its size
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(t.done)
		var bufs voiceBuffers
		var redo redundancy
		first := true
		n := 0
		t.frames, t.err = tx.Talk(ctx, t.burst, func(payload []byte) {
			if first {
				first = false
				if !keyAt.IsZero() {
					ms := float64(time.Since(keyAt).Microseconds()) / 1000
					p.setStatus(func(s *Status) { s.LastAccessMs = ms })
				}
			}
			if media == nil || !media.Send(group, redo.withPrevious(payload)) {
				bufs.publish(payload, func(b []byte) paho.Token { return link.Publish(topic, 0, false, b) })
				if n++; n%brokerQueueEvery == 0 {
					// Over the broker the link reports nothing: what waits
					// to be written is the measure.
					p.retune(adapt.Input{Path: adapt.MQTT, Queue: bufs.queued(fpp)})
				}
			}
			t.sent.Add(1)
		})
	}()
	grantMs := 0.0
	if !keyAt.IsZero() {
		grantMs = float64(begin.Sub(keyAt).Microseconds()) / 1000
	}
	p.log.Info("talking", "group", group, "burst", t.burst, "talk_limit", p.fs.TalkLimit, "grant_ms", grantMs)
}

// stopTalk closes the microphone: the talk goroutine sends the burst's
// last packet before this returns, so it leaves ahead of the release. A
// microphone that does not stop within stopWait is left to finish on its
// own (the loop ends the burst when it does); the floor goes on.
func (p *PTT) stopTalk() {
	t := p.talk
	if t == nil {
		return
	}
	p.talk = nil
	t.cancel()
	p.talking.Store(false)
	p.voiceFlows()
	p.setLED(p.parts.LEDs.Transmitting, false)
	wait := time.NewTimer(stopWait)
	defer wait.Stop()
	select {
	case <-t.done:
		p.finishTalk(t)
	case <-wait.C:
		p.log.Error("the microphone did not stop within 2 s", "burst", t.burst)
		p.faults.set("microphone", errors.New("did not stop at the end of a burst"))
		p.stale = t
	}
}

// micStopped: the talk goroutine ended while the floor was still ours —
// the microphone failed. The floor goes back.
func (p *PTT) micStopped() {
	if p.ctx.Err() != nil {
		return // stopping: the burst ended because of that, and shutdown leaves the floor
	}
	err := p.talk.err
	if err == nil {
		err = errors.New("capture ended")
	}
	p.log.Error("microphone failed mid-burst; releasing the floor", "err", err)
	p.faults.set("microphone", err)
	p.step(floor.Input{Kind: floor.Cancel})
	p.stopTalk() // when the floor had already moved on without a StopCapture
}

// finishTalk closes a burst whose goroutine is done: its recording and
// its counts.
func (p *PTT) finishTalk(t *talkBurst) {
	if t.err != nil && !errors.Is(t.err, context.Canceled) {
		p.log.Warn("burst ended with an error", "err", t.err)
	} else {
		p.faults.set("microphone", nil)
	}
	p.log.Info("talk ended", "group", t.group, "burst", t.burst, "frames", t.frames, "packets", t.sent.Load())
	if t.rec != nil {
		if m, err := t.rec.End(); err != nil {
			p.log.Error("recording", "err", err)
		} else if m.Complete {
			p.log.Debug("burst recorded", "id", m.ID, "duration_ms", m.DurationMs)
		}
	}
	p.setStatus(func(s *Status) {
		s.BurstsSent++
		s.FramesSent += uint64(t.frames)
		s.PacketsSent += t.sent.Load()
	})
}

// voiceBuffers hands the link a copy of each packet (paho sends it later,
// from another goroutine, and the packetizer reuses its buffer); buffers
// come back once paho has written them, so steady state allocates nothing
// here.
type voiceBuffers struct {
	slots [32]struct {
		buf []byte
		tok paho.Token
	}
	next int
}

func (v *voiceBuffers) publish(payload []byte, pub func([]byte) paho.Token) {
	s := &v.slots[v.next]
	v.next = (v.next + 1) % len(v.slots)
	if s.tok != nil {
		select {
		case <-s.tok.Done():
		default:
			s.buf = nil // still queued in paho: leave it there
		}
	}
	if cap(s.buf) < len(payload) {
		s.buf = make([]byte, 0, wire.MaxVoicePacket)
	}
	s.buf = append(s.buf[:0], payload...)
	s.tok = pub(s.buf)
}
