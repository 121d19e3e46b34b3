package fleet

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	mrand "math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

// handset is one virtual handset, built from the agent's own uplink parts
// as agent.Assemble builds them: an mqtt.Client with the retained presence
// and the subscriptions a handset holds, an on-disk queue.Queue and a
// uplink.TrackSender. Only the GNSS (a generated route) and the sound card
// (voice packets of random bytes at the real rate) are stand-ins.
type handset struct {
	acct   string
	group  int64
	topics wire.Topics
	mq     *mqtt.Client
	q      *queue.Queue
	sender *uplink.TrackSender
	route  route
	talker bool
	// reported is closed when the handset queued its last point.
	reported chan struct{}

	mu       sync.Mutex
	first    uint64      // seq of appended[0]
	appended []time.Time // when each point went into the queue, by seq-first
	online   []bool      // whether the link was up then
	got      []uint16    // times the collector received each point
	lastSeq  uint64      // last seq appended
	ups      []time.Time // when the link came up, each time
	downs    []time.Time // when it went down

	voiceSent    uint64 // packets published (while the link was up: a handset stops talking when it is lost)
	voiceRelayed uint64 // of those, relayed to the group by the collector
	voiceHeard   uint64 // others' packets received through the group relay
	voiceIgnore  uint64 // own packets relayed back (the agent ignores them too)
	voiceLat     []time.Duration
}

// newHandset makes handset i of the whole fleet (all processes).
func newHandset(o *Options, i int, log *slog.Logger) (*handset, error) {
	acct := o.accountOf(i)
	h := &handset{acct: acct, group: groupOf(o, i), topics: wire.Topics{Prefix: o.Prefix, Account: acct},
		route: newRoute(uint64(i)), talker: i < o.Talkers, reported: make(chan struct{})}
	tq := config.Default().Tracks.Queue
	q, err := queue.Open(filepath.Join(o.Dir, acct+".db"), tq.MaxPoints)
	if err != nil {
		return nil, err
	}
	h.q = q
	brokers := o.Brokers
	if o.Spread && len(brokers) > 1 {
		// Each handset starts its list at another node, as a fleet's
		// provisioning would spread it.
		k := i % len(brokers)
		brokers = append(append([]string(nil), brokers[k:]...), brokers[:k]...)
	}
	h.mq = mqtt.New(mqtt.Options{
		Brokers: brokers, ClientID: acct, Username: acct,
		KeepAlive: o.KeepAlive, ConnectTimeout: o.ConnectTimeout,
		ReconnectMin: o.ReconnectMin, ReconnectMax: o.ReconnectMax,
		StatusTopic: h.topics.Status(),
		Online: func() []byte {
			return wire.Presence{State: "online", Time: time.Now().Unix(), Version: "pttfleet"}.Encode()
		},
		OfflineWill: wire.Presence{State: "offline"}.Encode(),
		Offline: func() []byte {
			return wire.Presence{State: "offline", Time: time.Now().Unix(), Reason: "shutdown"}.Encode()
		},
		Logger: log,
	})
	if o.Subscribe {
		// What an agent with a platform and push-to-talk holds: its events
		// and floor messages (QoS 1) and its group's voice (QoS 0).
		h.mq.Subscribe(h.topics.Event(), 1, func(string, []byte) {})
		h.mq.Subscribe(h.topics.FloorDown(), 1, func(string, []byte) {})
		h.mq.Subscribe(wire.GroupVoice(o.Prefix, h.group, "+"), 0, h.onVoice)
	}
	h.sender = &uplink.TrackSender{Queue: q, MQTT: h.mq, Topic: h.topics.Track(),
		BatchPoints: tq.BatchPoints, BatchBytes: tq.BatchBytes, MaxInflight: tq.MaxInflight, AckTimeout: o.AckTimeout, Logger: log}
	return h, nil
}

func groupOf(o *Options, i int) int64 { return int64(1 + i/max(1, o.GroupSize)) }

// run runs the handset until ctx ends; points stop when points is done.
func (h *handset) run(ctx, points context.Context, o *Options) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.mq.Run(gctx) })
	g.Go(func() error { return h.sender.Run(gctx) })
	g.Go(func() error { h.watch(gctx); return nil })
	g.Go(func() error { defer close(h.reported); h.report(points, o); return nil })
	if h.talker {
		g.Go(func() error { h.talk(points, o); return nil })
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// watch records every change of the link.
func (h *handset) watch(ctx context.Context) {
	up := false
	for {
		now, changed := h.mq.State()
		if now != up {
			h.mu.Lock()
			if now {
				h.ups = append(h.ups, time.Now())
			} else {
				h.downs = append(h.downs, time.Now())
			}
			h.mu.Unlock()
			up = now
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// report queues a point of the route every period, the first after a
// random part of it (handsets switched on at random times).
func (h *handset) report(ctx context.Context, o *Options) {
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(o.Period))))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(o.Period)
		p := h.route.next(o.Period)
		up, _ := h.mq.State()
		// Under the lock: the sender may publish the point and the
		// collector receive it before Append has returned.
		h.mu.Lock()
		seq, err := h.q.Append(&p)
		if err != nil {
			h.mu.Unlock()
			continue // not queued: the queue counts it (Stats.Failed)
		}
		if len(h.appended) == 0 {
			h.first = seq
		}
		for uint64(len(h.appended))+h.first <= seq {
			h.appended = append(h.appended, time.Time{})
			h.online = append(h.online, false)
			h.got = append(h.got, 0)
		}
		h.appended[seq-h.first] = time.Now()
		h.online[seq-h.first] = up
		h.lastSeq = seq
		h.mu.Unlock()
	}
}

// received counts a point the collector got: known is false for a seq
// this run never queued, first is false for a repeat; lat is how long
// after it was queued it arrived, online whether the link was up then.
func (h *handset) received(seq uint64, now time.Time) (lat time.Duration, online, first, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq < h.first || seq-h.first >= uint64(len(h.appended)) {
		return 0, false, false, false
	}
	i := seq - h.first
	h.got[i]++
	if h.got[i] > 1 {
		return 0, false, false, true
	}
	return now.Sub(h.appended[i]), h.online[i], true, true
}

// Voice as the agent sends it: 3 frames of 20 ms per packet, 17 packets a
// second, frames of the size Opus gives speech at 16 kbit/s.
const (
	framesPerPacket = 3
	frameBytes      = 40
	packetEvery     = framesPerPacket * 20 * time.Millisecond
)

// talk sends a burst of TalkBurst every TalkEvery (with jitter), at the
// real packet rate, whatever the link: a dead link loses QoS 0 voice, as
// on a handset.
func (h *handset) talk(ctx context.Context, o *Options) {
	var frames [framesPerPacket][frameBytes]byte
	for i := range frames {
		rand.Read(frames[i][:])
	}
	topic := h.topics.Voice(h.group)
	buf := make([]byte, 0, wire.MaxVoicePacket)
	pause := time.NewTimer(time.Duration(mrand.Int64N(int64(o.TalkEvery))))
	defer pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
		var id [4]byte
		rand.Read(id[:])
		p := wire.VoicePacket{FrameMs: 20, Burst: binary.BigEndian.Uint32(id[:]), NFrames: framesPerPacket}
		for i := range frames {
			p.Frames[i] = frames[i][:]
		}
		tick := time.NewTicker(packetEvery)
		packets := int(o.TalkBurst / packetEvery)
		for n := 0; n < packets; n++ {
			p.TimeMicro = time.Now().UnixMicro()
			p.Last = n == packets-1
			if up, _ := h.mq.State(); up {
				buf = wire.AppendVoicePacket(buf[:0], &p)
				h.mq.Publish(topic, 0, false, append([]byte(nil), buf...))
				h.mu.Lock()
				h.voiceSent++
				h.mu.Unlock()
			}
			p.Seq += framesPerPacket
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-tick.C:
			}
		}
		tick.Stop()
		pause.Reset(o.TalkEvery/2 + time.Duration(mrand.Int64N(int64(o.TalkEvery))))
	}
}

// onVoice is the handset hearing its group through the relay.
func (h *handset) onVoice(topic string, payload []byte) {
	now := time.Now()
	var p wire.VoicePacket
	if wire.DecodeVoicePacket(payload, &p) != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if speakerOf(topic) == h.acct {
		h.voiceIgnore++
		return
	}
	h.voiceHeard++
	h.voiceLat = append(h.voiceLat, now.Sub(time.UnixMicro(p.TimeMicro)))
}

// speakerOf is the last level of a group voice topic.
func speakerOf(topic string) string {
	for i := len(topic) - 1; i >= 0; i-- {
		if topic[i] == '/' {
			return topic[i+1:]
		}
	}
	return topic
}

// drained reports whether every point appended was acknowledged and
// received.
func (h *handset) drained() bool {
	if h.q.Len() > 0 {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range h.got {
		if n == 0 {
			return false
		}
	}
	return true
}
