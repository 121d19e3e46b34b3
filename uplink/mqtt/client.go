// Package mqtt keeps the handset's one connection to the broker: connect
// with capped exponential backoff and jitter, retained presence with an
// offline last will, subscriptions restored on every connect, and QoS 1
// publishes whose acknowledgement the caller can wait for.
//
// paho's own auto-reconnect is off: with a clean session paho completes
// every pending publish token with an error when the link drops, and the
// agent's on-disk queue — not paho's in-memory store — decides what is sent
// again. Our loop also adds the jitter paho lacks, so a cell full of
// handsets does not reconnect in lock-step after an outage.
package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/pttagent/pttagent/uplink/dial"
	"github.com/pttagent/pttagent/uplink/radio"
	"github.com/pttagent/pttagent/uplink/rtt"
)

// Options configure a Client.
type Options struct {
	Brokers        []string
	ClientID       string
	Username       string
	Password       string
	TLS            *tls.Config // nil: system defaults for TLS brokers
	KeepAlive      time.Duration
	ConnectTimeout time.Duration
	ReconnectMin   time.Duration
	ReconnectMax   time.Duration
	// StatusTopic gets a retained Online() payload on every connect and
	// OfflineWill as the broker-published last will.
	StatusTopic string
	Online      func() []byte
	OfflineWill []byte
	// Offline is published (retained) on a clean stop.
	Offline func() []byte
	// MaxIncoming bounds one message from the broker (0:
	// DefaultMaxIncoming); larger ones are dropped unread and counted.
	MaxIncoming int
	// KeepSession asks each broker to keep the session across
	// reconnects: a QoS 1 message on its way when the connection dropped
	// comes again at the reconnect, where a clean session loses it. For a
	// platform's ingest (pttsim's tracks: a point the handset had
	// acknowledged must reach the platform), with a client id that stays
	// the same. A handset keeps clean sessions: what it missed it fetches,
	// and a broker holding messages for a parked handset costs the fleet.
	KeepSession bool
	// Radio, if set, hears of every read and write on the connection.
	Radio  *radio.Radio
	Logger *slog.Logger
}

// Handler receives a message on a subscribed topic. Handlers run one at a
// time, in the order the broker delivered the messages, on paho's delivery
// goroutine: return quickly, never wait on the network (a Publish is fine,
// waiting for its token is not), do not retain payload.
type Handler func(topic string, payload []byte)

// Client is safe for concurrent use.
type Client struct {
	o    Options
	log  *slog.Logger
	clis []paho.Client // one per broker
	lost chan error

	cliMu sync.Mutex
	cli   paho.Client // the one in use

	oversize dropCounter
	onWrite  atomic.Pointer[func()]
	retained atomic.Uint64
	// lastWrite and lastRead (UnixNano) are paho's lastSent and
	// lastReceived as near as the connection sees them: KeepAliveDue.
	lastWrite, lastRead atomic.Int64
	refused             atomic.Uint64

	mu      sync.Mutex
	up      bool
	changed chan struct{}
	subs    map[string]sub
	stats   Stats
	rtt     rtt.Estimator // over the SUBACKs
}

type sub struct {
	qos      byte
	h        Handler
	retained bool // deliver retained messages too (SubscribeRetained)
}

// Stats describe the connection for status and health.
type Stats struct {
	Connected  bool
	Broker     string    // the broker of the current or last connection
	Since      time.Time // when the current state began
	Connects   int       // successful connections
	Failures   int       // failed attempts since the last success
	LastError  string
	Reconnects int // connections after the first
	// Oversize counts messages from the broker dropped unread for being
	// larger than Options.MaxIncoming; OversizeLargest is the largest.
	Oversize        uint64
	OversizeLargest int64
	// Retained counts retained messages dropped on subscriptions that
	// take only news (Subscribe).
	Retained uint64
	// SubscribeRefused counts subscriptions the broker refused (SUBACK
	// failure), each tried again while the link lasts.
	SubscribeRefused uint64
	// RTTMs and RTTVarMs: the broker's round trip and how much it varies
	// (RoundTrip), from the SUBACKs; 0 before the first.
	RTTMs, RTTVarMs float64
}

// ErrNotConnected is the error of a publish attempted while offline.
var ErrNotConnected = errors.New("mqtt: not connected")

// New prepares a client; Run connects it.
func New(o Options) *Client {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Client{o: o, log: o.Logger, lost: make(chan error, 1), changed: make(chan struct{}), subs: map[string]sub{}}
	// One paho client per broker, tried in order, so that status can say
	// which broker the handset is on (paho's own list hides it).
	for _, b := range o.Brokers {
		po := paho.NewClientOptions()
		po.AddBroker(b)
		po.SetClientID(o.ClientID)
		po.SetUsername(o.Username)
		po.SetPassword(o.Password)
		po.SetCleanSession(!o.KeepSession)
		// 3.1.1 only: paho otherwise tries 3.1 after every refused or
		// closed connect, doubling a connect storm's attempts (a NATS
		// node closes connections while its cluster elects leaders).
		po.SetProtocolVersion(4)
		po.SetAutoReconnect(false)
		po.SetConnectRetry(false)
		po.SetKeepAlive(o.KeepAlive)
		po.SetPingTimeout(min(o.KeepAlive, 10*time.Second))
		po.SetConnectTimeout(o.ConnectTimeout)
		po.SetWriteTimeout(o.ConnectTimeout)
		// In order: MQTT delivers a topic's QoS 1 messages in order, and the
		// receivers rely on it (de-duplication by "seq not above the
		// highest", floor messages). paho's unordered mode runs each handler
		// in its own goroutine and reorders them. Handlers therefore run on
		// paho's delivery goroutine and must not block (see Handler).
		po.SetOrderMatters(true)
		if o.TLS != nil {
			po.SetTLSConfig(o.TLS)
		}
		po.SetCustomOpenConnectionFn(c.open)
		if o.StatusTopic != "" && o.OfflineWill != nil {
			po.SetBinaryWill(o.StatusTopic, o.OfflineWill, 1, true)
		}
		po.SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
		c.clis = append(c.clis, paho.NewClient(po))
	}
	c.cli = c.clis[0]
	return c
}

// stableAfter is how long a connection must last before the backoff starts
// from the beginning again. A broker that accepts and then drops at once (a
// second device logged in with the same client id, an ACL or quota kick)
// otherwise makes a fleet reconnect in a tight loop.
const stableAfter = 30 * time.Second

// Run connects and stays connected until ctx is cancelled, then publishes
// the offline status and disconnects. It may be called again once it has
// returned: the subscriptions are kept and made again.
func (c *Client) Run(ctx context.Context) error {
	attempt, flaps := 0, 0
	for {
		err := c.connect(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			began := time.Now()
			err = c.serve(ctx)
			if ctx.Err() != nil {
				c.shutdown()
				return ctx.Err()
			}
			c.setUp(false, err)
			if time.Since(began) >= stableAfter {
				attempt, flaps = 0, 0
				c.log.Warn("mqtt connection lost", "err", err)
			} else {
				flaps++
				if flaps == 3 {
					c.log.Warn("mqtt broker keeps closing the connection right after connecting; is another device using the same account (client id)? Backing off.",
						"client_id", c.o.ClientID, "err", err)
				} else {
					c.log.Debug("mqtt connection lost soon after connecting", "err", err, "times", flaps)
				}
			}
		} else {
			c.mu.Lock()
			c.stats.Failures++
			c.stats.LastError = err.Error()
			first := c.stats.Failures == 1
			c.mu.Unlock()
			if first {
				c.log.Warn("mqtt broker unreachable; retrying with backoff", "brokers", c.o.Brokers, "err", err)
			} else {
				c.log.Debug("mqtt connect failed", "attempt", attempt+1, "err", err)
			}
		}
		wait := dial.Backoff(attempt, c.o.ReconnectMin, c.o.ReconnectMax)
		attempt++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// connect tries each broker once, in order.
func (c *Client) connect(ctx context.Context) error {
	var errs []error
	for i, cli := range c.clis {
		tok := cli.Connect()
		select {
		case <-tok.Done():
		case <-ctx.Done():
			// A connection that comes up after all is closed, so that Run
			// can be called again (the voice copy connects on demand).
			go func() {
				if <-tok.Done(); tok.Error() == nil {
					cli.Disconnect(0)
				}
			}()
			return ctx.Err()
		}
		if err := tok.Error(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.o.Brokers[i], explain(err)))
			continue
		}
		c.connected(cli, c.o.Brokers[i])
		return nil
	}
	return errors.Join(errs...)
}

func (c *Client) connected(cli paho.Client, broker string) {
	// Drain a stale loss signal from the previous connection.
	select {
	case <-c.lost:
	default:
	}
	c.cliMu.Lock()
	c.cli = cli
	c.cliMu.Unlock()
	c.mu.Lock()
	if c.stats.Connects > 0 {
		c.stats.Reconnects++
	}
	c.stats.Connects++
	c.stats.Broker = broker
	failures := c.stats.Failures
	c.stats.Failures = 0
	c.stats.LastError = ""
	// Up, and the subscriptions to restore, under one lock: a Subscribe
	// racing this connect either is in the copy (it saw the link down and
	// left the subscribing to us) or sees the link up and subscribes
	// itself. Marking the link up after the copy once lost a subscription
	// made in between.
	c.markUpLocked(true)
	subs := make(map[string]sub, len(c.subs))
	for k, v := range c.subs {
		subs[k] = v
	}
	c.mu.Unlock()
	if c.o.StatusTopic != "" && c.o.Online != nil {
		cli.Publish(c.o.StatusTopic, 1, true, c.o.Online())
	}
	for filter, s := range subs {
		c.subscribe(cli, filter, s)
	}
	c.log.Info("mqtt connected", "broker", broker, "failed_attempts", failures)
}

// open dials a broker for paho. Two things differ from paho's own dialer:
//
//   - no TCP keep-alive: MQTT's PINGREQ already proves the link every
//     keep-alive period, and Go's default 15 s TCP probes beneath it woke a
//     parked handset's radio about 144 times an hour (issue 14's proxy
//     measurement) for nothing MQTT does not already learn;
//   - every byte from the broker passes the packetFilter, so an oversized
//     message is dropped unread instead of allocated whole.
func (c *Client) open(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: c.o.ConnectTimeout, KeepAlive: -1}
	var conn net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		conn, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "mqtt+ssl", "tcps":
		conn, err = tls.DialWithDialer(d, "tcp", uri.Host, o.TLSConfig)
	case "ws", "wss":
		u := *uri
		u.User = nil
		conn, err = paho.NewWebsocket(u.String(), o.TLSConfig, c.o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		return nil, fmt.Errorf("mqtt: scheme %q is not supported", uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	max := c.o.MaxIncoming
	if max <= 0 {
		max = DefaultMaxIncoming
	}
	f := newPacketFilter(conn, max, func(size int) {
		c.oversize.add(size)
		c.log.Warn("dropped a message from the broker larger than the handset accepts; set the broker's message_size_limit (deploy/mosquitto)",
			"bytes", size, "limit", max)
	})
	now := time.Now().UnixNano()
	c.lastWrite.Store(now)
	c.lastRead.Store(now)
	f.onWrite = func() {
		c.lastWrite.Store(time.Now().UnixNano())
		c.o.Radio.Used()
		if h := c.onWrite.Load(); h != nil {
			(*h)()
		}
	}
	f.onRead = func() {
		c.lastRead.Store(time.Now().UnixNano())
		c.o.Radio.Used()
	}
	return f, nil
}

// OnWrite has f called after every write to the broker (a publish, a
// ping): the radio is awake then, so other links' keep-alives that are
// nearly due can go in the same wake-up. f runs on paho's writer and
// must not block.
func (c *Client) OnWrite(f func()) { c.onWrite.Store(&f) }

// KeepAliveDue is when paho will send its next PINGREQ unless something
// else is written and read before: KeepAlive after the older of the last
// write and the last read (paho pings when either is that old, checking
// every 5 s). A part with something to send that may wait (held track
// points) sends it before then, and the ping is not needed: a publish and
// its PUBACK keep the connection alive as well as PINGREQ and PINGRESP.
// Zero while no connection was ever made.
func (c *Client) KeepAliveDue() time.Time {
	w, r := c.lastWrite.Load(), c.lastRead.Load()
	if w == 0 || c.o.KeepAlive <= 0 {
		return time.Time{}
	}
	return time.Unix(0, min(w, r)).Add(c.o.KeepAlive)
}

func (c *Client) current() paho.Client {
	c.cliMu.Lock()
	defer c.cliMu.Unlock()
	return c.cli
}

func (c *Client) serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-c.lost:
		if err == nil {
			err = errors.New("connection closed")
		}
		return err
	}
}

// shutdown says goodbye: a retained offline status (so the platform knows
// this was a clean stop, not a lost link), then DISCONNECT, which tells the
// broker not to publish the will.
func (c *Client) shutdown() {
	cli := c.current()
	if c.o.StatusTopic != "" && c.o.Offline != nil && cli.IsConnectionOpen() {
		tok := cli.Publish(c.o.StatusTopic, 1, true, c.o.Offline())
		tok.WaitTimeout(2 * time.Second)
	}
	cli.Disconnect(250)
	c.setUp(false, nil)
}

func (c *Client) setUp(up bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.stats.LastError = err.Error()
	}
	c.markUpLocked(up)
}

func (c *Client) markUpLocked(up bool) {
	if c.up == up {
		return
	}
	c.up = up
	c.stats.Connected = up
	c.stats.Since = time.Now()
	close(c.changed)
	c.changed = make(chan struct{})
}

// State reports whether the client is connected now, and a channel that is
// closed at the next change.
func (c *Client) State() (bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up, c.changed
}

// Stats returns a snapshot.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	st := c.stats
	if srtt, v, ok := c.rtt.Get(); ok {
		st.RTTMs, st.RTTVarMs = float64(srtt)/float64(time.Millisecond), float64(v)/float64(time.Millisecond)
	}
	c.mu.Unlock()
	st.Oversize, st.OversizeLargest = c.oversize.n.Load(), c.oversize.largest.Load()
	st.Retained = c.retained.Load()
	st.SubscribeRefused = c.refused.Load()
	return st
}

// Publish sends a message. At QoS 1 the token completes when the broker
// acknowledged it, or with an error when the link dropped first.
func (c *Client) Publish(topic string, qos byte, retained bool, payload []byte) paho.Token {
	return c.current().Publish(topic, qos, retained, payload)
}

// Subscribe registers h for filter now (if connected) and on every
// reconnect. Retained messages are dropped (and counted in
// Stats.Retained): everything a handset subscribes to — its events, floor
// control, voice — is news, never state, and a retained message there can
// only be stale or planted. A device that could publish a retained
// "group deleted" on another device's event topic once made it leave its
// group at every reconnect (issue 13 item 1).
func (c *Client) Subscribe(filter string, qos byte, h Handler) {
	c.addSub(filter, sub{qos: qos, h: h})
}

// SubscribeRetained is Subscribe for state that is meant to be retained,
// such as presence.
func (c *Client) SubscribeRetained(filter string, qos byte, h Handler) {
	c.addSub(filter, sub{qos: qos, h: h, retained: true})
}

func (c *Client) addSub(filter string, s sub) {
	c.mu.Lock()
	c.subs[filter] = s
	up := c.up
	c.mu.Unlock()
	if up {
		c.subscribe(c.current(), filter, s)
	}
}

// Unsubscribe forgets filter: it is unsubscribed now (if connected) and
// not restored on reconnects. Push-to-talk follows the active group's
// voice this way, so a handset does not pay for the voice of groups it
// does not listen to.
func (c *Client) Unsubscribe(filter string) {
	c.mu.Lock()
	_, had := c.subs[filter]
	delete(c.subs, filter)
	up := c.up
	c.mu.Unlock()
	if had && up {
		c.current().Unsubscribe(filter)
	}
}

func (c *Client) subscribe(cli paho.Client, filter string, s sub) {
	c.subscribeTry(cli, filter, s, 0)
}

// subAckFailure is the SUBACK return code of a refused subscription
// (MQTT 3.1.1 §3.9.3). paho reports it as a result, not an error.
const subAckFailure = 0x80

// subAckPatience is how long a subscription waits for its SUBACK on a live
// connection before it is sent again.
const subAckPatience = time.Minute

func (c *Client) subscribeTry(cli paho.Client, filter string, s sub, attempt int) {
	sent := time.Now()
	tok := cli.Subscribe(filter, s.qos, func(_ paho.Client, m paho.Message) {
		if m.Retained() && !s.retained {
			c.retained.Add(1)
			return
		}
		s.h(m.Topic(), m.Payload())
	})
	go func() {
		// A SUBACK can be slow on a live link: a NATS node answers each
		// QoS 1 subscription only after making its JetStream consumer,
		// and while the cluster elects leaders after a node died every
		// one of them takes a 5 s timeout, one after another. Giving up
		// on the answer then lost the refusal that came after it — and
		// with it the floor answers until the next reconnect. So wait as
		// long as this connection lives; past subAckPatience, subscribe
		// again (MQTT allows repeating a SUBSCRIBE).
		step, waited := max(c.o.ConnectTimeout, time.Second), time.Duration(0)
		for !tok.WaitTimeout(step) {
			waited += step
			if c.current() != cli || !cli.IsConnectionOpen() {
				return // the link went: the next connection subscribes again
			}
			if waited >= subAckPatience {
				c.mu.Lock()
				cur, wanted := c.subs[filter]
				c.mu.Unlock()
				if wanted && cur.qos == s.qos {
					c.log.Warn("mqtt broker did not answer a subscription; subscribing again", "filter", filter, "waited", waited)
					c.subscribeTry(cli, filter, s, attempt+1)
				}
				return
			}
		}
		err := tok.Error()
		if st, ok := tok.(*paho.SubscribeToken); ok && err == nil && st.Result()[filter] == subAckFailure {
			err = ErrSubscribeRefused
		}
		if err == nil {
			// A round trip the connection made anyway: push-to-talk
			// starts a new speaker from how much these vary.
			c.mu.Lock()
			c.rtt.Add(time.Since(sent))
			c.mu.Unlock()
			return
		}
		if !errors.Is(err, ErrSubscribeRefused) {
			c.log.Warn("mqtt subscribe failed", "filter", filter, "err", err)
			return // the link went: the next connection subscribes again
		}
		// A refusal on a live link is not final: a NATS node refuses a QoS 1
		// subscription while its JetStream elects a leader (the consumer
		// behind it cannot be made), and the handset would otherwise miss
		// its floor answers or events until its next reconnect.
		c.refused.Add(1)
		wait := dial.Backoff(attempt, time.Second, 30*time.Second)
		c.log.Warn("mqtt broker refused a subscription; trying again", "filter", filter, "in", wait, "attempt", attempt+1)
		time.AfterFunc(wait, func() {
			c.mu.Lock()
			cur, wanted := c.subs[filter]
			up := c.up
			c.mu.Unlock()
			if up && wanted && cur.qos == s.qos && c.current() == cli && cli.IsConnectionOpen() {
				c.subscribeTry(cli, filter, s, attempt+1)
			}
		})
	}()
}

// RoundTrip is the broker's smoothed round trip and how much it varies
// (RFC 6298), from the SUBACKs of this client's subscriptions (a few at
// every connect, one at every group change); ok is false before the
// first. A broker that makes each subscription slowly (a NATS node's
// JetStream consumer) shows as a long, varying round trip.
func (c *Client) RoundTrip() (srtt, rttvar time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt.Get()
}

// ErrSubscribeRefused: the broker answered a SUBSCRIBE with failure.
var ErrSubscribeRefused = errors.New("mqtt: subscription refused by the broker")

// explain turns paho's connect errors into ones that say what to check.
func explain(err error) error {
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	switch {
	case errors.As(err, &uerr):
		return fmt.Errorf("%w (the broker's certificate is not signed by a CA in mqtt.tls.ca_file)", err)
	case errors.As(err, &herr):
		return fmt.Errorf("%w (the broker's certificate does not name this host; check the broker URL or mqtt.tls.server_name)", err)
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return fmt.Errorf("%w (check mqtt.username and mqtt_password in the secrets file)", err)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return fmt.Errorf("%w (the broker refused the client id device.account)", err)
	}
	return err
}
