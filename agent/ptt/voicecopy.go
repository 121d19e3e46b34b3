package ptt

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pttagent/pttagent/uplink/mqtt"
)

// The voice copy. Over the broker a lost TCP segment holds up all the
// voice behind it for a retransmission — a round trip and more, 250–300
// ms on a 3G link — and on a link losing 2 % that is every few seconds of
// speech. While voice comes over the broker (no UDP path) and someone
// talks in the active group, a second broker connection holds the same
// voice subscription: a loss on one connection then seldom meets a loss
// on the other, and the jitter buffer plays whichever copy comes first
// (the other counts as a duplicate). It connects when the floor is taken
// by another member, or when this handset's own talk ends (the answer
// comes next), and closes copyLinger after the floor was last held, so a
// parked handset pays nothing. It doubles the voice coming down, so it is scavenger traffic:
// when the voice starts to queue on the way (a link too narrow for two
// copies: the least delay of the last half second or so 100 ms above the
// burst's least) it closes for copyBackOff, twice as long each time
// again. Runs on the loop, except the guard, which the voice handlers
// feed.

// VoiceCopy is the second connection to the broker: an *mqtt.Client with
// a client id of its own and no presence, connected only while Run runs.
type VoiceCopy interface {
	Subscribe(filter string, qos byte, h mqtt.Handler)
	Unsubscribe(filter string)
	Run(ctx context.Context) error
}

const (
	// copyLinger keeps the copy after the floor was last held: the next
	// turn of a conversation comes within it.
	copyLinger = 2 * time.Minute
	// copyBackOff is how long the copy stays closed the first time it
	// made the voice queue; each time again twice as long, up to
	// copyBackOffMax (the link is narrow where this handset is).
	copyBackOff    = 10 * time.Minute
	copyBackOffMax = 4 * time.Hour
)

type voiceCopy struct {
	sub      string             // the filter the copy holds; "" none
	cancel   context.CancelFunc // non-nil while Run runs
	ran      chan struct{}      // closed when the last Run returned
	held     bool               // someone else holds the floor of the active group
	self     bool               // this handset holds it
	until    time.Time          // wanted until then (the floor last held + copyLinger)
	offUntil time.Time          // backed off until then
	backOff  time.Duration      // the last back-off
	timer    *time.Timer
	on       atomic.Bool // connected or connecting: the guard is fed
	guard    queueGuard
}

// copyFloor follows the floor of the active group (speaker "" when
// nobody holds it). This handset's own talk opens no copy while it lasts
// (the copy would only bring its own voice back twice) but counts as the
// floor held: the copy opens when it ends, ready for the answer.
func (p *PTT) copyFloor(speaker string) {
	c := &p.vc
	if p.parts.VoiceCopy == nil {
		return
	}
	if speaker == p.o.Account {
		c.held, c.self = false, true
		return
	}
	if speaker == "" && !c.held && !c.self {
		return
	}
	c.held, c.self = speaker != "", false
	c.until = time.Now().Add(copyLinger)
	if c.timer == nil {
		c.timer = time.AfterFunc(copyLinger, func() { p.post(p.followCopy) })
	} else {
		c.timer.Reset(copyLinger)
	}
	p.followCopy()
}

// followCopy connects, moves or closes the copy: it holds the broker's
// voice subscription (subscribeVoice) while the floor is held or was
// within copyLinger, unless it backed off.
func (p *PTT) followCopy() {
	c := &p.vc
	if p.parts.VoiceCopy == nil {
		return
	}
	now := time.Now()
	want := ""
	offered := p.parts.VoiceCopyOffered == nil || p.parts.VoiceCopyOffered()
	if offered && p.voiceSub != "" && !p.mediaUp && (c.held || now.Before(c.until)) && !now.Before(c.offUntil) {
		want = p.voiceSub
	}
	if want == c.sub {
		return
	}
	if c.sub != "" {
		p.parts.VoiceCopy.Unsubscribe(c.sub)
	}
	c.sub = want
	if want == "" {
		if c.cancel != nil {
			c.cancel()
			c.cancel = nil
			c.on.Store(false)
			p.log.Info("voice copy closed")
		}
		p.setStatus(func(s *Status) { s.VoiceCopy = false })
		return
	}
	p.parts.VoiceCopy.Subscribe(want, 0, p.onVoice)
	if c.cancel == nil {
		ctx, cancel := context.WithCancel(p.ctx)
		c.cancel = cancel
		prev, ran := c.ran, make(chan struct{})
		c.ran = ran
		c.guard.reset()
		c.on.Store(true)
		p.spawn(func() {
			defer close(ran)
			if prev != nil {
				<-prev // one Run at a time
			}
			p.parts.VoiceCopy.Run(ctx)
		})
		p.log.Info("voice copy opened", "filter", want)
		p.setStatus(func(s *Status) { s.VoiceCopy = true; s.VoiceCopies++ })
	}
}

// copyQueued closes the copy for copyBackOff: the guard saw the voice
// queue behind it.
func (p *PTT) copyQueued() {
	c := &p.vc
	if c.sub == "" {
		return
	}
	c.backOff = min(max(2*c.backOff, copyBackOff), copyBackOffMax)
	c.offUntil = time.Now().Add(c.backOff)
	p.log.Warn("voice queues on this link with a second copy; the copy stays closed for a while",
		"for", c.backOff)
	p.setStatus(func(s *Status) { s.VoiceCopyBackOffs++ })
	p.followCopy()
}

// observeCopy is the voice handlers' half: a packet of burst captured at
// capture (Unix µs) arrived now.
func (p *PTT) observeCopy(burst uint32, capture int64, now time.Time) {
	if !p.vc.on.Load() {
		return
	}
	if p.vc.guard.observe(burst, now.UnixMicro()-capture, now.UnixMicro()) {
		p.tryPost(p.copyQueued)
	}
}

// queueGuard tells when voice starts to queue on its way: the least
// transit (arrival − capture, µs; the clocks' offset cancels out) over the
// last half to one second rises queueRise above the least of the burst.
// Jitter leaves the least of a second's packets near the burst's; a
// handover stall's backlog arrives in a bunch and the packets after it
// are back at the least; only a queue that keeps growing lifts it. It
// says so once until reset. Safe from any goroutine; allocates nothing.
type queueGuard struct {
	mu        sync.Mutex
	burst     uint32
	base      int64 // least transit of the burst
	cur, prev window
	tripped   bool
}

type window struct {
	start, least int64
	n            int
}

const (
	queueRise    = 100 * int64(time.Millisecond/time.Microsecond)
	queueWindow  = int64(500 * time.Millisecond / time.Microsecond)
	queueSamples = 8 // packets in the last windows before judging
)

func (g *queueGuard) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.burst, g.base, g.cur, g.prev, g.tripped = 0, 0, window{}, window{}, false
}

func (g *queueGuard) observe(burst uint32, transit, now int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if burst != g.burst || g.cur.n == 0 {
		g.burst, g.base = burst, transit
		g.cur, g.prev = window{start: now, least: transit, n: 1}, window{}
		return false
	}
	g.base = min(g.base, transit)
	if now-g.cur.start >= queueWindow {
		g.prev = g.cur
		if now-g.cur.start >= 2*queueWindow {
			g.prev = window{} // a gap: nothing came for a second
		}
		g.cur = window{start: now, least: transit}
	}
	g.cur.least = min(g.cur.least, transit)
	g.cur.n++
	// Judged over two windows in a row: a stall's backlog arrives in
	// one bunch after a gap, its transits falling to the least.
	if g.tripped || g.prev.n == 0 || g.cur.n+g.prev.n < queueSamples || min(g.cur.least, g.prev.least)-g.base <= queueRise {
		return false
	}
	g.tripped = true
	return true
}
