package fleet

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/wire"
)

// collector is the platform side of the fleet: it takes every handset's
// tracks, counts each point (de-duplicating by seq, as a platform does) and
// times its delivery, and relays each talker's voice to its group as the
// platform's floor relay does, so the broker carries the fan-out too.
//
// It keeps a persistent session (clean session off) with QoS 1: what the
// broker acknowledged to a handset while the collector was away is
// delivered when it comes back, on any node of a cluster.
type collector struct {
	cli      paho.Client
	o        *Options
	byAcct   map[string]*handset
	relay    bool
	prefix   string
	mu       sync.Mutex
	lat      []time.Duration // first deliveries of points queued while online
	latAll   []time.Duration // first deliveries of every point
	batches  atomic.Uint64
	bad      atomic.Uint64
	unknown  atomic.Uint64
	dups     atomic.Uint64
	firsts   atomic.Uint64 // points received for the first time
	relayed  atomic.Uint64
	voiceIn  atomic.Uint64
	voiceLat []time.Duration

	subscribed chan error // the first SUBACK (or its error)
}

// CollectorID is the collector's MQTT client id, with the worker's
// number after it (its session persists between runs of the tool on the
// same broker: one run at a time).
const CollectorID = "pttfleet-collector"

func newCollector(o *Options, hs []*handset) *collector {
	c := &collector{o: o, byAcct: make(map[string]*handset, len(hs)), relay: o.Talkers > 0, prefix: o.Prefix}
	for _, h := range hs {
		c.byAcct[h.acct] = h
	}
	po := paho.NewClientOptions().SetClientID(CollectorID + "-" + strconv.Itoa(o.Worker)).SetCleanSession(false).
		SetAutoReconnect(true).SetMaxReconnectInterval(time.Second).SetConnectRetry(true).
		SetConnectRetryInterval(200 * time.Millisecond).SetKeepAlive(10 * time.Second).
		SetOrderMatters(false).SetDefaultPublishHandler(c.on)
	// Start on the last node: a test that kills node 1 keeps the
	// collector where it is.
	for i := len(o.Brokers) - 1; i >= 0; i-- {
		po.AddBroker(o.Brokers[i])
	}
	c.subscribed = make(chan error, 1)
	po.SetOnConnectHandler(func(cli paho.Client) {
		subs := map[string]byte{wire.AllTracks(o.Prefix): 1}
		if c.relay {
			subs[wire.AllVoice(o.Prefix)] = 0
		}
		tok := cli.SubscribeMultiple(subs, nil)
		go func() {
			tok.Wait()
			select {
			case c.subscribed <- tok.Error():
			default:
			}
		}()
	})
	c.cli = paho.NewClient(po)
	return c
}

// connect returns once the collector's subscriptions are in place: a
// point published before would have no subscriber to go to (on NATS, no
// consumer: not even stored).
func (c *collector) connect() error {
	tok := c.cli.Connect()
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		return fmt.Errorf("collector: connect: %v", tok.Error())
	}
	select {
	case err := <-c.subscribed:
		if err != nil {
			return fmt.Errorf("collector: subscribe: %w", err)
		}
	case <-time.After(30 * time.Second):
		return errors.New("collector: no SUBACK in 30 s")
	}
	return nil
}

func (c *collector) close() { c.cli.Disconnect(250) }

// on handles every message: paho hands messages that arrive before the
// subscription is made again (a persistent session's backlog) to the
// default handler, which is this.
func (c *collector) on(_ paho.Client, m paho.Message) {
	now := time.Now()
	topic := m.Topic()
	acct := wire.DeviceOf(c.prefix, topic)
	h := c.byAcct[acct]
	switch {
	case len(topic) > 6 && topic[len(topic)-6:] == "/track":
		c.onTrack(h, m.Payload(), now)
	case h != nil && c.relay:
		c.onVoice(h, m.Payload(), now)
	default:
		c.unknown.Add(1)
	}
}

func (c *collector) onTrack(h *handset, payload []byte, now time.Time) {
	if h == nil {
		c.unknown.Add(1)
		return
	}
	pts, err := wire.DecodeTrackBatch(payload)
	if err != nil {
		c.bad.Add(1)
		return
	}
	c.batches.Add(1)
	for _, p := range pts {
		lat, online, first, known := h.received(p.Seq, now)
		switch {
		case !known:
			c.unknown.Add(1)
		case !first:
			c.dups.Add(1)
		default:
			c.firsts.Add(1)
			c.mu.Lock()
			c.latAll = append(c.latAll, lat)
			if online {
				c.lat = append(c.lat, lat)
			}
			c.mu.Unlock()
		}
	}
}

// onVoice relays a talker's packet to its group, unchanged.
func (c *collector) onVoice(h *handset, payload []byte, now time.Time) {
	var p wire.VoicePacket
	if wire.DecodeVoicePacket(payload, &p) != nil {
		c.bad.Add(1)
		return
	}
	c.voiceIn.Add(1)
	c.mu.Lock()
	c.voiceLat = append(c.voiceLat, now.Sub(time.UnixMicro(p.TimeMicro)))
	c.mu.Unlock()
	c.cli.Publish(wire.GroupVoice(c.prefix, h.group, h.acct), 0, false, payload)
	c.relayed.Add(1)
	h.mu.Lock()
	h.voiceRelayed++
	h.mu.Unlock()
}
