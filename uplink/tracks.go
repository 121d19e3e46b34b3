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
	"github.com/pttagent/pttagent/wire"
)

// Publisher is what TrackSender needs of the MQTT client.
type Publisher interface {
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	// State reports whether the link is up and a channel closed at the next change.
	State() (bool, <-chan struct{})
}

// TrackSender drains the queue oldest first in batches, with up to
// MaxInflight batches awaiting the broker's PUBACK. A batch leaves the disk
// only after its PUBACK. On any doubt — link lost, publish error, no ack in
// AckTimeout — it starts again from the oldest point still on disk, so a
// point may go twice (the receiver drops repeated sequence numbers) but is
// never skipped, and a stuck batch cannot stall the queue.
type TrackSender struct {
	Queue       *queue.Queue
	MQTT        Publisher
	Topic       string
	BatchPoints int
	BatchBytes  int
	MaxInflight int
	AckTimeout  time.Duration
	Logger      *slog.Logger

	mu    sync.Mutex
	stats SenderStats
}

// SenderStats for status.
type SenderStats struct {
	Batches  uint64    // batches acknowledged
	Points   uint64    // points acknowledged
	Restarts uint64    // times the window was abandoned and sent again
	LastAck  time.Time // when the broker last acknowledged a batch
}

type inflight struct {
	first, last uint64
	n           int
	tok         paho.Token
	sent        time.Time
}

// Run sends until ctx is cancelled.
func (s *TrackSender) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
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
		window  []inflight
		buf     []wire.Point
		timeout = time.NewTimer(time.Hour)
	)
	defer timeout.Stop()
	defer func() {
		if len(window) > 0 {
			s.mu.Lock()
			s.stats.Restarts++
			s.mu.Unlock()
		}
	}()
	for {
		for len(window) < s.MaxInflight {
			var err error
			buf, err = s.Queue.Peek(cursor, s.BatchPoints, s.BatchBytes, buf)
			if err != nil {
				s.Logger.Error("cannot read the track queue", "err", err)
				return true
			}
			if len(buf) == 0 {
				break
			}
			// paho keeps the payload until the broker acknowledged it, so
			// each batch needs its own buffer.
			payload := wire.AppendTrackBatch(make([]byte, 0, s.BatchBytes+256), buf)
			first, last := buf[0].Seq, buf[len(buf)-1].Seq
			tok := s.MQTT.Publish(s.Topic, 1, false, payload)
			window = append(window, inflight{first: first, last: last, n: len(buf), tok: tok, sent: time.Now()})
			cursor = last
		}
		// The ack timer runs only while a batch is in flight; with nothing
		// in flight neither it nor a token can fire.
		var (
			head    <-chan struct{}
			expired <-chan time.Time
		)
		if len(window) > 0 {
			head = window[0].tok.Done()
			timeout.Reset(time.Until(window[0].sent.Add(s.AckTimeout)))
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
		case <-expired:
			s.Logger.Warn("broker did not acknowledge a track batch in time; sending again from the oldest point",
				"first", window[0].first, "last", window[0].last, "ack_timeout", s.AckTimeout)
			return true
		case <-head:
			b := window[0]
			if err := b.tok.Error(); err != nil {
				s.Logger.Debug("track batch not acknowledged", "first", b.first, "last", b.last, "err", err)
				return true
			}
			if err := s.Queue.Ack(b.first, b.last); err != nil {
				// The points stay on disk and go again: a duplicate, not a loss.
				s.Logger.Error("cannot remove acknowledged points", "err", err)
				return true
			}
			window = window[1:]
			s.mu.Lock()
			s.stats.Batches++
			s.stats.Points += uint64(b.n)
			s.stats.LastAck = time.Now()
			s.mu.Unlock()
		}
	}
}

// Stats returns a snapshot.
func (s *TrackSender) Stats() SenderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
