// Package uplink carries what the handset tells the platform. Its parts, in
// the order data flows: queue (points on disk), proto (the wire format),
// mqtt (the broker connection), and here TrackSender, which moves points
// from the queue to the broker and deletes them only once acknowledged.
package uplink

import (
	"context"
	"log/slog"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/uplink/radio"
	"github.com/pttagent/pttagent/wire"
)

// Publisher is what TrackSender needs of the MQTT client.
type Publisher interface {
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	// State reports whether the link is up and a channel closed at the next change.
	State() (bool, <-chan struct{})
}

// TrackSender drains the queue oldest first in batches, several awaiting
// the broker's PUBACK at once, and deletes a batch's points only once it
// is acknowledged.
//
// How much is in flight follows what the link acknowledges (pace): one
// batch at first, one more after each batch acknowledged within half the
// AckTimeout, half as many (then half-size batches) when nothing at all
// was acknowledged for AckTimeout. The ack timer runs from the last PUBACK
// (or from the moment a batch went out on an idle link), not from when
// each batch was handed to paho: on a slow link the later batches of a
// window are still queued behind the first, and only the link's progress
// says anything. A batch that timed out is not abandoned: its PUBACK,
// however late, still deletes its points.
//
// A batch is sent again only with a reason: the link was lost or a publish
// failed (everything left on disk goes again from the oldest point, so a
// point may arrive twice — receivers drop repeated seqs — but is never
// skipped), or nothing at all was acknowledged for stallTimeouts ack
// timeouts on a link said to be up (the oldest batch goes again, as a
// probe). A PUBACK missing while a later one arrived means the broker had
// the batch (PUBACKs come in order, MQTT 3.1.1 §4.6): its points are
// deleted, not sent again.
type TrackSender struct {
	Queue       *queue.Queue
	MQTT        Publisher
	Topic       string
	BatchPoints int
	BatchBytes  int
	MaxInflight int
	AckTimeout  time.Duration
	// Hold lets points wait to share a message and a radio wake-up; the
	// zero Hold sends each point at once.
	Hold Hold
	// Radio, if set, says when the radio is awake anyway: held points go
	// then.
	Radio *radio.Radio
	// PingDue, if set, is when the MQTT keep-alive would next ping
	// (mqtt.Client.KeepAliveDue): held points go before, in its place.
	PingDue func() time.Time
	// Encode writes a batch's payload; nil: wire.AppendTrackBatch (JSON).
	Encode func(dst []byte, pts []wire.Point) []byte
	Logger *slog.Logger

	mu    sync.Mutex
	stats SenderStats
	pace  pace

	// The hold's memory (drain's goroutine only): when the oldest point
	// waiting was first seen, and the last point sent.
	waitingSince time.Time
	held         bool // the points waiting were held back
	prev         wire.Point
	hasPrev      bool
}

// SenderStats for status.
type SenderStats struct {
	Batches  uint64    // batches acknowledged
	Points   uint64    // points in them
	Restarts uint64    // times sending began again from the oldest point (link lost, publish failed)
	Timeouts uint64    // times nothing was acknowledged for AckTimeout (the window shrank)
	Probes   uint64    // batches sent again after stallTimeouts timeouts in a row
	Passed   uint64    // batches whose PUBACK never came but a later one did (counted delivered)
	Window   int       // batches allowed in flight now
	Batch    int       // points per batch now
	LastAck  time.Time // when the broker last acknowledged a batch
	// Held counts the batches that waited to share a message.
	Held uint64
	// Version of the last batch sent: 1 JSON, 2 CBOR (0: none yet).
	Version int
}

// stallTimeouts ack timeouts in a row without any PUBACK, on a link said
// to be up, make the oldest batch go again.
const stallTimeouts = 3

type inflight struct {
	first, last uint64
	n           int
	tok         paho.Token
	sent        time.Time
	// probed: sent again as a probe; this one no longer counts against
	// the window, but its PUBACK still deletes its points.
	probed bool
}

// Run sends until ctx is cancelled.
func (s *TrackSender) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	s.mu.Lock()
	s.pace = newPace(max(1, s.MaxInflight), max(1, s.BatchPoints))
	s.mu.Unlock()
	for {
		up, changed := s.MQTT.State()
		if !up {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		if s.drain(ctx, changed) {
			// Something went wrong on a live link; pause so that a broker
			// refusing every batch is not hammered.
			select {
			case <-ctx.Done():
			case <-changed:
			case <-time.After(time.Second):
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// drain sends while the link is up; it reports whether it gave up on an
// error (as opposed to the link changing or ctx ending).
func (s *TrackSender) drain(ctx context.Context, changed <-chan struct{}) (failed bool) {
	var (
		cursor  uint64 // highest sequence number handed to MQTT in this drain
		window  []*inflight
		buf     []wire.Point
		waiting time.Time // the ack timer's start: the last PUBACK, or the first batch out on an idle link
		quiet   int       // ack timeouts in a row without a PUBACK
		timeout = time.NewTimer(time.Hour)
		hold    = time.NewTimer(time.Hour)
	)
	defer timeout.Stop()
	defer hold.Stop()
	defer func() {
		if live(window) > 0 {
			s.mu.Lock()
			s.stats.Restarts++
			s.mu.Unlock()
		}
	}()
	s.mu.Lock()
	s.pace.restart() // a new connection may be another link
	s.mu.Unlock()
	for {
		p := s.currentPace()
		var (
			held  <-chan time.Time
			woken <-chan struct{}
		)
		if live(window) == 0 {
			// Nothing in flight: the radio may be idle, and the points
			// waiting may be better sent later, together.
			var until time.Time
			var err error
			if buf, until, err = s.holdUntil(cursor, p.points, buf); err != nil {
				s.Logger.Error("cannot read the track queue", "err", err)
				return true
			}
			if d := time.Until(until); d > 0 {
				hold.Reset(d)
				held, woken = hold.C, s.Radio.Woke()
			} else {
				hold.Stop()
			}
		}
		for held == nil && live(window) < p.limit {
			var err error
			buf, err = s.Queue.Peek(cursor, p.points, s.BatchBytes, buf)
			if err != nil {
				s.Logger.Error("cannot read the track queue", "err", err)
				return true
			}
			if len(buf) == 0 {
				break
			}
			if live(window) == 0 {
				waiting = time.Now()
			}
			window = append(window, s.publish(buf))
			cursor = buf[len(buf)-1].Seq
		}
		// The ack timer and a token run only while a batch is in flight.
		var (
			head    <-chan struct{}
			expired <-chan time.Time
		)
		if oldest := firstLive(window); oldest != nil {
			head = oldest.tok.Done()
			timeout.Reset(time.Until(waiting.Add(s.AckTimeout)))
			expired = timeout.C
		} else {
			timeout.Stop()
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
			return false
		case <-s.Queue.Notify():
		case <-held:
		case <-woken:
		case <-head:
		case <-expired:
			quiet++
			waiting = time.Now()
			s.mu.Lock()
			s.stats.Timeouts++
			s.pace.timedOut()
			s.mu.Unlock()
			oldest, p := firstLive(window), s.currentPace()
			log := s.Logger.Debug
			if quiet == 1 {
				log = s.Logger.Warn // once per silence: a slow link may time out often
			}
			log("broker acknowledged nothing in time; sending less at once",
				"oldest_first", oldest.first, "oldest_last", oldest.last, "in_flight", live(window),
				"ack_timeout", s.AckTimeout, "window", p.limit, "batch_points", p.points)
			if quiet >= stallTimeouts {
				quiet = 0
				if b, err := s.probe(oldest, buf); err != nil {
					s.Logger.Error("cannot read the track queue", "err", err)
					return true
				} else if b != nil {
					window = append(window, b)
				}
			}
		}
		var (
			acked int
			err   error
		)
		if window, acked, err = s.collect(window); err != nil {
			return true
		}
		if acked > 0 {
			quiet, waiting = 0, time.Now()
		}
	}
}

// holdUntil peeks at the points waiting after cursor and says until when
// they may wait (at or before now: send them now).
func (s *TrackSender) holdUntil(cursor uint64, points int, buf []wire.Point) ([]wire.Point, time.Time, error) {
	now := time.Now()
	if s.Hold.Delay <= 0 && s.Hold.ParkedDelay <= 0 {
		return buf, now, nil
	}
	buf, err := s.Queue.Peek(cursor, points, s.BatchBytes, buf)
	if err != nil || len(buf) == 0 {
		s.waitingSince = time.Time{}
		return buf, now, err
	}
	if s.waitingSince.IsZero() {
		s.waitingSince = now
	}
	st := holdState{now: now, waiting: buf, full: len(buf) >= points, since: s.waitingSince,
		prev: s.prev, hasPrev: s.hasPrev, awake: s.Radio.Awake(awakeWithin)}
	if s.PingDue != nil {
		st.pingDue = s.PingDue()
	}
	until := s.Hold.until(st)
	if until.After(now) {
		s.held = true
	}
	return buf, until, nil
}

// publish hands a batch to paho. paho keeps the payload until the broker
// acknowledged it, so each batch needs its own buffer.
func (s *TrackSender) publish(pts []wire.Point) *inflight {
	encode := s.Encode
	if encode == nil {
		encode = wire.AppendTrackBatch
	}
	payload := encode(make([]byte, 0, s.BatchBytes+256), pts)
	s.mu.Lock()
	if s.held {
		s.stats.Held++
	}
	// Version 1 is JSON, an object; version 2 a CBOR array.
	s.stats.Version = 2
	if len(payload) > 0 && payload[0] == '{' {
		s.stats.Version = 1
	}
	s.mu.Unlock()
	s.waitingSince, s.held, s.prev, s.hasPrev = time.Time{}, false, pts[len(pts)-1], true
	tok := s.MQTT.Publish(s.Topic, 1, false, payload)
	return &inflight{first: pts[0].Seq, last: pts[len(pts)-1].Seq, n: len(pts), tok: tok, sent: time.Now()}
}

// probe sends the oldest batch's first points again (as many as a batch
// holds now) and marks the batch probed.
func (s *TrackSender) probe(b *inflight, buf []wire.Point) (*inflight, error) {
	b.probed = true
	buf, err := s.Queue.Peek(b.first-1, s.currentPace().points, s.BatchBytes, buf)
	if err != nil {
		return nil, err
	}
	for len(buf) > 0 && buf[len(buf)-1].Seq > b.last {
		buf = buf[:len(buf)-1]
	}
	if len(buf) == 0 {
		return nil, nil // its points are gone meanwhile
	}
	s.Logger.Warn("no acknowledgement at all for a while; sending the oldest points again",
		"first", buf[0].Seq, "last", buf[len(buf)-1].Seq, "after", stallTimeouts*s.AckTimeout)
	s.mu.Lock()
	s.stats.Probes++
	s.mu.Unlock()
	return s.publish(buf), nil
}

// collect deletes the points of every batch the broker acknowledged and
// returns the batches still awaited and how many were acknowledged. An
// error means a publish failed or the points could not be deleted: the
// caller starts again.
func (s *TrackSender) collect(window []*inflight) (_ []*inflight, acked int, _ error) {
	// Look at the newest acknowledgement first: every batch sent before it
	// and still unacknowledged when looked at after it was passed over.
	passed := -1
	for i := len(window) - 1; i >= 0; i-- {
		if isDone(window[i].tok) {
			passed = i
			break
		}
	}
	kept := window[:0]
	for i, b := range window {
		done := isDone(b.tok)
		if !done && i > passed {
			kept = append(kept, b)
			continue
		}
		if done {
			if err := b.tok.Error(); err != nil {
				s.Logger.Debug("track batch not acknowledged", "first", b.first, "last", b.last, "err", err)
				return append(kept, window[i:]...), acked, err
			}
		} else {
			s.Logger.Warn("the broker acknowledged a later track batch first: this one's acknowledgement was lost, the broker has it",
				"first", b.first, "last", b.last)
			s.mu.Lock()
			s.stats.Passed++
			s.mu.Unlock()
		}
		if err := s.Queue.Ack(b.first, b.last); err != nil {
			// The points stay on disk and go again: a duplicate, not a loss.
			s.Logger.Error("cannot remove acknowledged points", "err", err)
			return append(kept, window[i:]...), acked, err
		}
		acked++
		now := time.Now()
		s.mu.Lock()
		s.stats.Batches++
		s.stats.Points += uint64(b.n)
		s.stats.LastAck = now
		if done && !b.probed {
			s.pace.acked(now.Sub(b.sent), s.AckTimeout)
		}
		s.mu.Unlock()
	}
	clear(window[len(kept):])
	return kept, acked, nil
}

func isDone(tok paho.Token) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}

// live counts the batches in flight that count against the window.
func live(window []*inflight) int {
	n := 0
	for _, b := range window {
		if !b.probed {
			n++
		}
	}
	return n
}

func firstLive(window []*inflight) *inflight {
	for _, b := range window {
		if !b.probed {
			return b
		}
	}
	return nil
}

func (s *TrackSender) currentPace() pace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pace
}

// Stats returns a snapshot.
func (s *TrackSender) Stats() SenderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Window, st.Batch = s.pace.limit, s.pace.points
	return st
}

// pace sizes what is in flight from what the link acknowledges: additive
// increase while batches come back well within the ack timeout,
// multiplicative decrease when nothing comes back within it. It grows only
// while a batch's round trip (queueing behind the others included) is
// under half the ack timeout, so that in steady state a window never takes
// the link longer than that: no timeout fires on a link that is merely
// slow, and a keep-alive ping does not wait behind minutes of points.
type pace struct {
	limit, points       int // batches in flight, points per batch
	maxLimit, maxPoints int
}

func newPace(maxLimit, maxPoints int) pace {
	return pace{limit: 1, points: maxPoints, maxLimit: maxLimit, maxPoints: maxPoints}
}

// restart: one batch in flight on a new connection; the batch size is
// kept (it grows back by itself).
func (p *pace) restart() { p.limit = 1 }

func (p *pace) acked(roundTrip, ackTimeout time.Duration) {
	switch {
	case roundTrip > ackTimeout/2:
	case p.points < p.maxPoints:
		p.points = min(p.maxPoints, p.points*2)
	default:
		p.limit = min(p.maxLimit, p.limit+1)
	}
}

func (p *pace) timedOut() {
	if p.limit > 1 {
		p.limit = max(1, p.limit/2)
		return
	}
	p.points = max(1, p.points/2)
}
