package pttsim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/wire"
)

// The platform's UDP media relay (docs/protocol.md, "Voice over UDP
// (SRTP)"): it hands out media sessions over MQTT, opens the voice
// handsets send over SRTP, lets the floor decide what is heard (the
// decision of onVoice, admitVoice), and sends the floor holder's voice to
// every listener: over MQTT as always, and over UDP — each with its own
// keys — to the members whose session listens to the group. A device's
// address is latched from its newest authenticated packet, so a NAT
// rebinding or a handover costs one packet. Nothing unauthenticated is
// answered: it is counted and dropped, so the relay cannot be used to
// amplify or reflect traffic.

// MediaStats count the media relay.
type MediaStats struct {
	Requests, Sessions, Refused, BadRequests int
	VoiceIn, ControlIn                       int // authenticated packets received
	VoiceOut                                 int // voice packets sent to UDP listeners
	Echoes, Reports                          int // keep-alives answered, link reports sent to talkers
	// AuthFailures counts packets that failed authentication or named no
	// session (unknown SSRC); Replayed those the replay window refused.
	AuthFailures, Replayed, Malformed int
	// AddressChanges counts sessions whose address moved (NAT
	// rebinding, handover).
	AddressChanges int
	ListenRefused  int // keep-alives asking for a group the device is not in
	// Resent counts voice packets sent again to a listener that moved to
	// a new address or began listening mid-burst (the burst so far).
	Resent int
}

// Relay timings.
const (
	// DefaultMediaTTL is a session's lifetime; devices ask for a new one
	// after 80 % of it.
	DefaultMediaTTL = time.Hour
	// mediaGrace is how long a replaced session still opens packets.
	mediaGrace = 30 * time.Second
	// mediaIdle: a session not heard from for this long gets no voice
	// (its handset is gone, or its NAT binding with it).
	mediaIdle = 90 * time.Second
	// A talker gets a link report with its next packet once a listener of
	// its group has reported since its last one, reportEvery apart at the
	// least (each listener report goes to it once, so one lossy second
	// lowers its bitrate once, and a big group's many reports make one a
	// second); at once, reportSoonest apart at the least, when a
	// listener's downlink queue grew by downRiseMs (it reports early
	// then, uplink/media); with no listener news (no UDP listeners),
	// every reportQuiet, about its uplink. A listener's report counts for
	// downlinkAge.
	reportSoonest = 250 * time.Millisecond
	reportEvery   = time.Second
	reportQuiet   = 2 * time.Second
	downlinkAge   = 3 * time.Second
	downRiseMs    = 50
	// resendWindow: how much of the burst in progress a listener that
	// moved (a NAT binding renewed at the burst's start, a handover) or
	// joined mid-burst is sent again — enough for a keep-alive's round
	// trip at a cell edge, or a probe after a 2 s silence.
	resendWindow = 3 * time.Second
)

type mediaRelay struct {
	s      *Sim
	conn   *net.UDPConn
	public string
	ttl    time.Duration

	mu     sync.Mutex
	bySSRC map[uint32]*mediaSession
	byAcct map[string]*mediaAccount
	tails  map[int64]*voiceTail // per group: the burst in progress, its last resendWindow
	// downNews: per group, when a listener last reported, and last said
	// its queue grew (reportDueLocked).
	downNews map[int64]*downNews
	stats    MediaStats
}

// voiceTail is what one speaker's burst relayed in the last resendWindow.
type voiceTail struct {
	speaker string
	pkts    []tailPacket
}

type tailPacket struct {
	at    time.Time
	voice []byte
}

type mediaAccount struct{ cur, prev *mediaSession }

type downNews struct{ at, rose time.Time }

type mediaSession struct {
	acct     string
	ssrc     uint32
	until    time.Time
	rx       *media.Opener // device → relay: the reader goroutine's, under mu
	tx       *media.Sender // relay → device: its own lock
	addr     netip.AddrPort
	heard    time.Time
	listen   int64
	reported time.Time // the last link report sent to this talker
	resent   time.Time // the last time the burst so far was sent again (resendLocked)
	down     struct {  // this listener's last receiver report
		fraction uint8
		jitter   uint32
		queueMs  uint16 // its downlink queueing delay, from the link report beside it
		at       time.Time
	}
}

// listenMedia binds the relay's socket.
func (s *Sim) listenMedia() (*mediaRelay, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(mustAddrPort(s.o.MediaAddr)))
	if err != nil {
		return nil, fmt.Errorf("media relay on %s: %w", s.o.MediaAddr, err)
	}
	public := s.o.MediaPublic
	if public == "" {
		public = conn.LocalAddr().String()
		if ap, err := netip.ParseAddrPort(public); err == nil && ap.Addr().IsUnspecified() {
			s.log.Warn("the media relay listens on all addresses; devices need -media-public to reach it", "addr", public)
		}
	}
	ttl := s.o.MediaTTL
	if ttl <= 0 {
		ttl = DefaultMediaTTL
	}
	return &mediaRelay{s: s, conn: conn, public: public, ttl: ttl,
		bySSRC: map[uint32]*mediaSession{}, byAcct: map[string]*mediaAccount{}}, nil
}

func mustAddrPort(addr string) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap
	}
	if a, err := net.ResolveUDPAddr("udp", addr); err == nil {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// MediaAddr is the relay's bound UDP address ("" when it is off or not
// running yet).
func (s *Sim) MediaAddr() string {
	if r := s.media.Load(); r != nil {
		return r.conn.LocalAddr().String()
	}
	return ""
}

// MediaStats returns a snapshot (zero when the relay is off).
func (s *Sim) MediaStats() MediaStats {
	r := s.media.Load()
	if r == nil {
		return MediaStats{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// MediaListening says whether account's media session listens to group
// over UDP.
func (s *Sim) MediaListening(account string, group int64) bool {
	r := s.media.Load()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.byAcct[account]
	return a != nil && a.cur != nil && a.cur.listen == group
}

// onMediaRequest answers a device's request for a media session on its
// media/ctl topic: a session with fresh keys, or why there is none.
func (s *Sim) onMediaRequest(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	req, err := wire.DecodeMediaRequest(payload)
	r := s.media.Load()
	if err != nil || acct == "" {
		if r != nil {
			r.mu.Lock()
			r.stats.BadRequests++
			r.mu.Unlock()
		}
		s.log.Warn("dropping a bad media request", "topic", topic, "err", err)
		return
	}
	s.mu.Lock()
	known := s.w.byNum(acct) != nil
	s.mu.Unlock()
	ans := wire.MediaSession{ID: req.ID, TS: s.now().UnixMilli()}
	switch {
	case r == nil:
		ans.Error = "unavailable"
	case !known:
		ans.Error = "refused"
		r.mu.Lock()
		r.stats.Refused++
		r.mu.Unlock()
	default:
		sess, err := r.newSession(acct)
		if err != nil {
			s.log.Error("media session", "account", acct, "err", err)
			ans.Error = "unavailable"
			break
		}
		ans.Addr, ans.SSRC, ans.Profile, ans.Up, ans.Down, ans.TTL = r.public, sess.ssrc, wire.MediaProfile,
			sess.up, sess.down, int(r.ttl/time.Second)
	}
	s.pubMu.Lock()
	mq := s.mq
	s.pubMu.Unlock()
	if mq != nil {
		mq.Publish(wire.MediaCtlTopic(s.o.Prefix, acct), 1, false, ans.Encode())
	}
	s.log.Debug("media session", "account", acct, "ssrc", ans.SSRC, "error", ans.Error)
}

type newSession struct {
	ssrc     uint32
	up, down wire.MediaKey
}

// newSession makes account's current session; the one it replaces opens
// packets for mediaGrace more.
func (r *mediaRelay) newSession(acct string) (newSession, error) {
	ns := newSession{up: media.NewKey(), down: media.NewKey()}
	now := r.s.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Requests++
	for ns.ssrc == 0 || r.bySSRC[ns.ssrc] != nil {
		var b [4]byte
		rand.Read(b[:])
		ns.ssrc = binary.BigEndian.Uint32(b[:])
	}
	rx, err := media.NewOpener(ns.up, ns.ssrc)
	if err != nil {
		return ns, err
	}
	tx, err := media.NewSender(ns.down, ns.ssrc)
	if err != nil {
		return ns, err
	}
	sess := &mediaSession{acct: acct, ssrc: ns.ssrc, until: now.Add(r.ttl + mediaGrace), rx: rx, tx: tx}
	a := r.byAcct[acct]
	if a == nil {
		a = &mediaAccount{}
		r.byAcct[acct] = a
	}
	if a.prev != nil {
		delete(r.bySSRC, a.prev.ssrc)
	}
	if a.prev = a.cur; a.prev != nil {
		if g := now.Add(mediaGrace); g.Before(a.prev.until) {
			a.prev.until = g
		}
		sess.listen = a.prev.listen
	}
	a.cur = sess
	r.bySSRC[sess.ssrc] = sess
	r.stats.Sessions++
	return ns, nil
}

// live is the session to send an account's voice to: the current one once
// the device has used it, until then the one it replaced.
func (a *mediaAccount) live() *mediaSession {
	if a.cur != nil && a.cur.addr.IsValid() {
		return a.cur
	}
	if a.prev != nil && a.prev.addr.IsValid() {
		return a.prev
	}
	return nil
}

// sweep forgets expired sessions.
func (r *mediaRelay) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for acct, a := range r.byAcct {
		if a.prev != nil && !now.Before(a.prev.until) {
			delete(r.bySSRC, a.prev.ssrc)
			a.prev = nil
		}
		if a.cur != nil && !now.Before(a.cur.until) {
			delete(r.bySSRC, a.cur.ssrc)
			a.cur = nil
		}
		if a.cur == nil && a.prev == nil {
			delete(r.byAcct, acct)
		}
	}
}

// run reads the relay's socket until ctx ends.
func (r *mediaRelay) run(ctx context.Context) {
	go func() {
		<-ctx.Done()
		r.conn.Close()
	}()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.sweep(r.s.now())
			}
		}
	}()
	buf := make([]byte, media.MaxPacket+1)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.s.log.Debug("media relay receive", "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		r.handle(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), r.s.now())
	}
}
