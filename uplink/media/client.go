// Package media is the handset's voice path over UDP: SRTP (RFC 3711,
// AEAD_AES_128_GCM) between the handset and the platform's media relay,
// beside MQTT, so a lost packet costs one packet of speech that Opus FEC
// or PLC hides instead of a TCP stall of hundreds of milliseconds.
//
// The session — relay address, SSRC, a fresh master key and salt per
// direction — comes from the platform over MQTT (verified TLS, per-device
// ACL), at every MQTT connect and before the session expires, as 3GPP
// MCPTT keys its SRTP media through the control plane (TS 33.180). Floor
// control, tracks and events stay on MQTT. When UDP does not get through
// (a blocked port, a NAT that drops the binding, a handover) Send says so
// and the caller publishes on MQTT instead; the client keeps probing and
// takes voice back to UDP by itself. docs/protocol.md, "Voice over UDP
// (SRTP)", is the protocol.
package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/rtt"
	"github.com/pttagent/pttagent/wire"
)

// Control is the MQTT side the client needs; *mqtt.Client is one.
type Control interface {
	Publish(topic string, qos byte, retained bool, payload []byte) paho.Token
	Subscribe(filter string, qos byte, h mqtt.Handler)
	Unsubscribe(filter string)
	State() (bool, <-chan struct{})
}

var _ Control = (*mqtt.Client)(nil)

// Defaults of Options.
const (
	// DefaultKeepAlive refreshes the NAT binding while idle: carrier NATs
	// keep UDP bindings 30 s or more (RFC 4787 asks for at least 2 min,
	// many do less), so 25 s is the longest safe period.
	DefaultKeepAlive      = 25 * time.Second
	DefaultProbeInterval  = time.Second
	DefaultMediaTimeout   = 2 * time.Second
	DefaultDownAfter      = 3
	DefaultRequestTimeout = 5 * time.Second
	// DefaultRetryMax caps the backoff of unanswered requests and is the
	// wait after a platform said it has no relay.
	DefaultRetryMax       = 10 * time.Minute
	DefaultReportInterval = time.Second
)

const (
	// A listener reports sooner than ReportInterval when voice starts to
	// queue on its downlink: once the mean queueing delay since its last
	// report is earlyReportRise over what that report said, and at least
	// earlyReportGap after it. The relay passes such a rise on to the
	// talker at once, so the talker steps its bitrate down within a round
	// trip of the queue's growth, not one to two report periods later (at
	// 64 kbit/s a period of a burst too big for the link queues ~200 ms
	// more). Jitter alone does not do it: at the cell edge's σ 75 ms the
	// mean over 250 ms (six packets) stays within ±50 ms of its own mean.
	earlyReportGap  = 250 * time.Millisecond
	earlyReportRise = 100 * ClockRate / 1000 // 100 ms in RTP units

	// sessionGrace is how long the keys of a replaced session still open
	// packets: those in flight, and the relay's until it has heard the
	// new session.
	sessionGrace = 30 * time.Second
	// rekeyShare of a session's lifetime passes before a new one is asked for.
	rekeyShare = 0.8
	// firstRequestDelay lets the MQTT client restore its subscriptions
	// after a connect before the request whose answer comes on one.
	firstRequestDelay = 100 * time.Millisecond
)

// Options configure a Client; zero durations take the defaults above.
type Options struct {
	Topics  wire.Topics // the device's prefix and account
	Control Control
	// OnVoice gets each voice packet received over UDP, on the client's
	// reader goroutine: payload is a wire voice packet, valid only during
	// the call. Return quickly.
	OnVoice func(group int64, speaker string, payload []byte)
	// OnReport gets the relay's link reports while this handset talks
	// (about once a second), for the link adaptation (audio/adapt).
	OnReport func(Report)

	KeepAlive      time.Duration
	ProbeInterval  time.Duration
	MediaTimeout   time.Duration
	DownAfter      int
	RequestTimeout time.Duration
	RetryMax       time.Duration
	ReportInterval time.Duration
	Logger         *slog.Logger
}

type session struct {
	ssrc  uint32
	relay string
	addr  netip.AddrPort
	tx    *Sender
	rx    *Opener
	until time.Time
	rekey time.Time
}

// Client is the handset's end of the media path. Safe for concurrent use.
type Client struct {
	o       Options
	cfg     linkConfig
	log     *slog.Logger
	epoch   time.Time
	answers chan wire.MediaSession
	kick    chan struct{}

	mu        sync.Mutex
	conn      *net.UDPConn
	cur, prev *session
	link      link
	listen    int64
	pending   string // id of the request awaiting its answer
	changed   chan struct{}
	stats     Stats
	lostDone  int64 // Lost and Late of sessions gone
	lateDone  uint64
	lastRR    time.Time
	speaker   string // the last speaker: OnVoice gets it without an allocation
	doubt     bool   // up, but nothing heard back in time (InDoubt)
	rtt       rtt.Estimator
	// lastRRQueue is the downlink queueing delay lastRR reported (RTP
	// units): a rise over it reports early.
	lastRRQueue uint32
}

// New prepares a client; Run runs it.
func New(o Options) *Client {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepAlive, DefaultKeepAlive)
	def(&o.ProbeInterval, DefaultProbeInterval)
	def(&o.MediaTimeout, DefaultMediaTimeout)
	def(&o.RequestTimeout, DefaultRequestTimeout)
	def(&o.RetryMax, DefaultRetryMax)
	def(&o.ReportInterval, DefaultReportInterval)
	if o.DownAfter <= 0 {
		o.DownAfter = DefaultDownAfter
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Client{o: o, log: o.Logger, epoch: time.Now(),
		cfg:     linkConfig{KeepAlive: o.KeepAlive, ProbeInterval: o.ProbeInterval, MediaTimeout: o.MediaTimeout, DownAfter: o.DownAfter},
		answers: make(chan wire.MediaSession, 4), kick: make(chan struct{}, 1), changed: make(chan struct{}),
		stats: Stats{Path: "mqtt"}}
}

// Run asks for sessions and keeps the UDP path alive until ctx ends.
func (c *Client) Run(ctx context.Context) error {
	conn, err := net.ListenUDP("udp", nil)
	if err != nil {
		return fmt.Errorf("media: UDP socket: %w (voice stays on MQTT)", err)
	}
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	read := make(chan struct{})
	go func() { defer close(read); c.read(conn) }()
	topic := c.o.Topics.MediaCtl()
	c.o.Control.Subscribe(topic, 1, c.onAnswer)
	defer func() {
		c.o.Control.Unsubscribe(topic)
		conn.Close()
		<-read
		c.mu.Lock()
		c.cur, c.prev, c.conn = nil, nil, nil
		c.link = link{expectSince: c.link.expectSince}
		c.noteStateLocked()
		c.mu.Unlock()
	}()

	mqttUp, mqttChanged := c.o.Control.State()
	var reqAt time.Time // next request; zero: none planned
	attempt := 0
	if mqttUp {
		reqAt = time.Now().Add(firstRequestDelay)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		if mqttUp && !reqAt.IsZero() && !now.Before(reqAt) {
			c.request()
			// The first retry after 5–10 s, doubling to RetryMax.
			reqAt = now.Add(dial.Backoff(attempt+1, c.o.RequestTimeout, c.o.RetryMax))
			attempt++
		}
		next := c.tick(now, &reqAt)
		if !reqAt.IsZero() && mqttUp {
			next = earlier(next, reqAt)
		}
		timer.Reset(max(next.Sub(now), time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-mqttChanged:
			up, ch := c.o.Control.State()
			if up && !mqttUp {
				// New keys at every connect: whoever saw the old ones on a
				// previous connection cannot use them for long.
				reqAt, attempt = time.Now().Add(firstRequestDelay), 0
			}
			mqttUp, mqttChanged = up, ch
		case a := <-c.answers:
			if a.Error != "" {
				c.mu.Lock()
				c.stats.SessionError = a.Error
				c.mu.Unlock()
				c.log.Warn("the platform offers no UDP media session; voice stays on MQTT", "error", a.Error)
				reqAt, attempt = time.Now().Add(c.o.RetryMax), 0
				continue
			}
			if err := c.install(ctx, a); err != nil {
				c.log.Warn("media session not usable; voice stays on MQTT", "err", err)
				continue
			}
			reqAt, attempt = time.Time{}, 0
		case <-c.kick:
		case <-timer.C:
		}
	}
}

// tick expires sessions, plans the rekey and runs the liveness machine;
// it returns when it wants to run again.
func (c *Client) tick(now time.Time, reqAt *time.Time) time.Time {
	c.mu.Lock()
	if c.prev != nil && !now.Before(c.prev.until) {
		c.retireLocked(c.prev)
		c.prev = nil
	}
	if c.cur != nil && !now.Before(c.cur.until) {
		c.log.Warn("media session expired without a new one; voice on MQTT until the platform answers")
		c.retireLocked(c.cur)
		c.cur = nil
		c.link = link{expectSince: c.link.expectSince}
		c.noteStateLocked()
	}
	next := now.Add(time.Hour)
	s := c.cur
	if s == nil {
		c.mu.Unlock()
		return next
	}
	if !s.rekey.IsZero() && !now.Before(s.rekey) {
		s.rekey = time.Time{}
		if reqAt.IsZero() {
			*reqAt = now
		}
	}
	probe, wentDown, at := c.link.step(c.cfg, now)
	if wentDown {
		c.stats.Downs++
		c.noteStateLocked()
	}
	var ka wire.MediaKeepAlive
	if probe {
		c.link.probed(now)
		c.stats.Probes++
		ka = wire.MediaKeepAlive{Token: uint64(now.Sub(c.epoch)) + 1, Listen: c.listen}
		_, _, at = c.link.step(c.cfg, now)
	}
	// (The doubt's moments — MediaTimeout after what went unanswered, a
	// probe's ProbeInterval — are the probes' too: step wakes for them.)
	c.noteDoubtLocked(now)
	next = earlier(next, at)
	next = earlier(next, s.until)
	if !s.rekey.IsZero() {
		next = earlier(next, s.rekey)
	}
	if c.prev != nil {
		next = earlier(next, c.prev.until)
	}
	conn := c.conn
	c.mu.Unlock()
	if probe {
		c.writeControl(conn, s, AppPacket(s.ssrc, wire.MediaAppKeepAlive, wire.AppendMediaKeepAlive(nil, ka)))
	}
	return next
}

func (c *Client) writeControl(conn *net.UDPConn, s *session, pkt []byte) {
	if conn == nil || pkt == nil {
		return
	}
	if _, err := s.tx.WriteControl(conn, s.addr, pkt); err != nil {
		c.mu.Lock()
		c.stats.SendErrors++
		c.mu.Unlock()
		c.log.Debug("media control not sent", "err", err)
	}
}

// request asks the platform for a session.
func (c *Client) request() {
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	c.mu.Lock()
	c.pending = id
	c.mu.Unlock()
	c.o.Control.Publish(c.o.Topics.Media(), 1, false, wire.MediaRequest{ID: id, TS: time.Now().UnixMilli()}.Encode())
	c.log.Debug("media session requested", "id", id)
}

// onAnswer runs on the MQTT delivery goroutine: only the answer to the
// request in flight is taken, so a stale or retained message is ignored.
func (c *Client) onAnswer(_ string, payload []byte) {
	a, err := wire.DecodeMediaSession(payload)
	c.mu.Lock()
	ok := err == nil && a.ID == c.pending
	if ok {
		c.pending = ""
	}
	c.mu.Unlock()
	if !ok {
		c.log.Debug("media answer ignored", "err", err, "id", a.ID)
		return
	}
	select {
	case c.answers <- a:
	default:
	}
}

// install makes a as the current session; the previous one still opens
// packets for sessionGrace.
func (c *Client) install(ctx context.Context, a wire.MediaSession) error {
	addr, err := resolve(ctx, a.Addr)
	if err != nil {
		return err
	}
	tx, err := NewSender(a.Up, a.SSRC)
	if err != nil {
		return err
	}
	rx, err := NewOpener(a.Down, a.SSRC)
	if err != nil {
		return err
	}
	now := time.Now()
	ttl := time.Duration(a.TTL) * time.Second
	s := &session{ssrc: a.SSRC, relay: a.Addr, addr: addr, tx: tx, rx: rx, until: now.Add(ttl),
		rekey: now.Add(time.Duration(float64(ttl) * rekeyShare))}
	c.mu.Lock()
	if c.prev != nil {
		c.retireLocked(c.prev)
	}
	c.prev = c.cur
	if c.prev != nil {
		c.prev.until = earlier(c.prev.until, now.Add(sessionGrace))
	}
	c.cur = s
	if c.prev != nil && c.prev.addr == addr {
		// Same relay: the path stays as it is; the keep-alive sent at
		// once moves the relay to the new keys.
		c.link.announce = true
	} else {
		c.link = link{expectSince: c.link.expectSince}
		c.noteStateLocked()
	}
	c.stats.Sessions++
	c.stats.Relay, c.stats.SSRC, c.stats.SessionError = a.Addr, a.SSRC, ""
	c.mu.Unlock()
	c.log.Info("media session", "relay", a.Addr, "ssrc", a.SSRC, "ttl_s", a.TTL)
	c.wake()
	return nil
}

func resolve(ctx context.Context, hostport string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("media relay %q: %w", hostport, err)
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("media relay %q: %w", hostport, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("media relay %q: %w (check the platform's public media address)", hostport, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// retireLocked keeps the counters of a session that goes away.
func (c *Client) retireLocked(s *session) {
	c.lostDone += s.rx.Stats.Lost()
	c.lateDone += s.rx.Stats.Late()
}

// noteStateLocked publishes a change of Up to State's watchers.
func (c *Client) noteStateLocked() {
	up := c.link.up && c.cur != nil
	if up == c.stats.Up {
		return
	}
	c.stats.Up = up
	if !up {
		// Whatever the relay accepted is confirmed again by the echo
		// that brings the path back.
		c.stats.Listening = 0
	}
	c.notifyLocked()
	if up {
		c.log.Info("voice over UDP", "relay", c.stats.Relay)
	} else {
		c.log.Warn("voice over MQTT: UDP does not get through", "relay", c.stats.Relay)
	}
}

// noteDoubtLocked notes whether the path, up, is in doubt at now: voice
// sent or expected and nothing heard back within MediaTimeout, or a probe
// unanswered for ProbeInterval. A change wakes State's waiters: a listener
// takes the broker's copy of the voice while the probes decide, instead
// of hearing nothing until the path is down.
func (c *Client) noteDoubtLocked(now time.Time) {
	d := c.cur != nil && c.link.up && !c.link.sendable(c.cfg, now)
	if d != c.doubt {
		c.doubt = d
		c.notifyLocked()
	}
}

// InDoubt says whether the path is up but in doubt (see noteDoubtLocked);
// a change closes State's channel.
func (c *Client) InDoubt() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doubt
}

// notifyLocked wakes whoever waits on State: Up, InDoubt or Listening
// changed.
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Send sends one voice packet of a burst to group over UDP. It returns
// false when UDP is not usable now: the caller then publishes the packet
// on MQTT. voice is not kept.
func (c *Client) Send(group int64, voice []byte) bool {
	now := time.Now()
	c.mu.Lock()
	s, conn := c.cur, c.conn
	if s == nil || conn == nil || !c.link.sendable(c.cfg, now) {
		c.mu.Unlock()
		return false
	}
	armed := c.link.sentPacket(now)
	c.mu.Unlock()
	if armed {
		c.wake()
	}
	n, err := s.tx.WriteVoice(conn, s.addr, group, "", voice)
	c.mu.Lock()
	if err != nil {
		c.stats.SendErrors++
	} else {
		c.stats.Sent++
		c.stats.SentBytes += uint64(n)
	}
	c.mu.Unlock()
	return err == nil
}

// Listen says which group's voice to receive over UDP (0: none): the
// active group. The relay hears it at once.
func (c *Client) Listen(group int64) {
	c.mu.Lock()
	changed := c.listen != group
	c.listen = group
	if changed {
		c.link.announce = true
	}
	c.mu.Unlock()
	if changed {
		c.wake()
	}
}

// ExpectVoice says that another member holds the floor of the listened
// group, so voice should come: silence then is checked at once instead of
// at the next keep-alive. When a burst starts, a keep-alive goes at once
// (the radio is awake for the floor message anyway): if the handset's
// NAT binding or address changed while it was idle, the relay learns the
// new one now and sends it what the burst said so far, instead of
// sending into the void until a probe after MediaTimeout of silence.
func (c *Client) ExpectVoice(on bool) {
	c.mu.Lock()
	starts := on && c.link.expectSince.IsZero() && c.link.up && c.listen != 0
	c.link.expect(on, time.Now())
	if starts {
		c.link.announce = true
	}
	c.mu.Unlock()
	c.wake()
}

// Brings says whether UDP brings group's voice now: the path is up, not
// in doubt, and the relay confirmed it sends this handset that group.
// While it does, the broker's copy of the group's voice is not needed; a
// change of the answer closes State's channel.
func (c *Client) Brings(group int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Up && !c.doubt && group != 0 && c.stats.Listening == group
}

// Listening is the group the relay accepted to send this handset over
// UDP (0: none, or not confirmed yet); a change closes State's channel
// too. While it is the group push-to-talk listens to and the path is up,
// the broker's copy of that group's voice is not needed.
func (c *Client) Listening() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Listening
}

// Nudge tells the client that the radio is awake anyway (something was
// just sent over MQTT): a keep-alive due within the next half period goes
// now, so two wake-ups become one.
func (c *Client) Nudge() {
	now := time.Now()
	c.mu.Lock()
	due := c.cur != nil && c.link.up && now.Sub(c.link.sent) >= c.cfg.KeepAlive/2
	if due {
		c.link.announce = true
	}
	c.mu.Unlock()
	if due {
		c.wake()
	}
}

// State reports whether UDP delivers now, and a channel closed at the
// next change (of it, of InDoubt, or of Listening).
func (c *Client) State() (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats.Up, c.changed
}

// LocalAddr is the client's UDP address (nil before Run).
func (c *Client) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	return c.conn.LocalAddr()
}

// Stats returns a snapshot.
func (c *Client) Stats() Stats {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	if _, v, ok := c.rtt.Get(); ok {
		st.RTTVarMs = float64(v) / float64(time.Millisecond)
	}
	st.Path = "mqtt"
	if c.cur != nil && c.link.sendable(c.cfg, now) {
		st.Path = "udp"
	}
	st.Lost, st.Late = c.lostDone, c.lateDone
	for _, s := range []*session{c.cur, c.prev} {
		if s != nil {
			st.Lost += s.rx.Stats.Lost()
			st.Late += s.rx.Stats.Late()
		}
	}
	if st.Report != nil {
		r := *st.Report
		st.Report = &r
	}
	return st
}

// RoundTrip is the UDP path's smoothed round trip and how much it
// varies (RFC 6298's SRTT and RTTVAR), from the relay's echoes; ok is
// false before the first echo. Push-to-talk starts a new speaker's first
// burst from the variation (audio.Output.SetLinkHint).
func (c *Client) RoundTrip() (srtt, rttvar time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt.Get()
}
