package ptt

import (
	"strings"
	"time"

	"github.com/pttagent/pttagent/audio"
	"github.com/pttagent/pttagent/wire"
)

// The receive path: voice packets of the active group → the Output, on
// the transports' own goroutines, without the loop and without
// allocating. The loop only says which group to listen to (listen) and
// tells the playout about the floor (floorToPlayout).

// listenTo is the group whose voice is played, and its voice topic's
// prefix on the broker; swapped whole, so a handler never pairs one
// group's topic with another group.
type listenTo struct {
	group  int64
	prefix string // "{prefix}/group/{id}/voice/"
}

// HearVoice hands push-to-talk one voice packet (a wire.VoicePacket's
// bytes) that speaker sent to group, whatever carried it: the broker's
// voice handler calls it, and so can a second transport (a UDP media
// client). It plays when group is the active group, this member may
// listen, the handset is not talking itself and the packet is not its
// own; anything else is counted as ignored. Safe from any goroutine; it
// does not block on the loop and does not allocate.
func (p *PTT) HearVoice(group int64, speaker string, payload []byte) {
	l := p.listening.Load()
	if l == nil || group != l.group || p.talking.Load() || speaker == p.o.Account {
		p.setStatus(func(s *Status) { s.VoiceIgnored++ })
		return
	}
	var pkt wire.VoicePacket
	now := time.Now()
	if err := wire.DecodeVoicePacket(payload, &pkt); err == nil && pkt.NFrames > 0 {
		if pkt.Burst != p.rxBurst.Load() {
			p.rxBurst.Store(pkt.Burst)
			p.rxCapture.Store(pkt.TimeMicro - int64(pkt.Seq)*audio.FrameDuration.Microseconds())
		}
		p.observeCopy(pkt.Burst, pkt.TimeMicro, now)
	}
	if err := p.snd.out.PutVoiceFrom(speaker, payload, now); err != nil {
		p.setStatus(func(s *Status) { s.VoiceBad++ })
		return
	}
	p.setStatus(func(s *Status) { s.VoiceReceived++ })
}

// onVoice is the broker's voice handler: the topic names group and
// speaker.
func (p *PTT) onVoice(topic string, payload []byte) {
	l := p.listening.Load()
	if l == nil || !strings.HasPrefix(topic, l.prefix) {
		p.setStatus(func(s *Status) { s.VoiceIgnored++ })
		return
	}
	p.HearVoice(l.group, topic[len(l.prefix):], payload)
}

// listen sets what the voice handlers accept: the active group's voice,
// while this member may listen.
func (p *PTT) listen() {
	if p.active == 0 || (p.model != nil && !p.model.Self.Access().Listen) {
		if p.listening.Swap(nil) != nil {
			p.snd.out.ResetVoice()
		}
		return
	}
	if cur := p.listening.Load(); cur == nil || cur.group != p.active {
		p.listening.Store(&listenTo{group: p.active, prefix: wire.GroupVoice(p.o.TopicPrefix, p.active, "")})
	}
}

// floorToPlayout tells the playout who now has the floor of the group
// being played ("" none): a burst ends when the floor says so, never on a
// pause alone (a stall is not the end of what was said). Runs on the loop.
func (p *PTT) floorToPlayout(speaker string) {
	p.copyFloor(speaker)
	p.hintPlayout()
	p.snd.floor(speaker)
	p.floorHeard(speaker)
	if p.parts.Media != nil {
		p.parts.Media.ExpectVoice(speaker != "" && speaker != p.o.Account)
	}
}

// onVoicePlaying is the Output's OnVoice: the receiving LED, and the
// mouth-to-ear delay of the burst that starts (capture of its first frame
// → the same frame heard, given the clocks agree).
func (p *PTT) onVoicePlaying(on bool) {
	p.setLED(p.parts.LEDs.Receiving, on)
	p.hearing.Store(on)
	p.voiceFlows()
	m2e := 0.0
	if c := p.rxCapture.Load(); on && c != 0 {
		m2e = float64(time.Now().Add(p.snd.dev.Latency).UnixMicro()-c) / 1000
		p.log.Info("voice heard", "burst", p.rxBurst.Load(), "mouth_to_ear_ms", m2e)
	}
	p.setStatus(func(s *Status) {
		s.Receiving = on
		if on {
			s.BurstsHeard++
			if m2e != 0 {
				s.LastMouthToEarMs = m2e
			}
		}
	})
}

// voiceFlows tells Parts.VoiceFlows whether a burst is heard or sent now.
// Any goroutine; the lock keeps a stale answer from landing last.
func (p *PTT) voiceFlows() {
	if p.parts.VoiceFlows == nil {
		return
	}
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	p.parts.VoiceFlows(p.voiceNow())
}

// voiceNow says whether a burst is heard or sent now.
func (p *PTT) voiceNow() bool { return p.hearing.Load() || p.talking.Load() }
