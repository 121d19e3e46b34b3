package pttsim

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/pion/rtcp"

	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/wire"
)

// handle takes one datagram from a device.
func (r *mediaRelay) handle(pkt []byte, from netip.AddrPort, now time.Time) {
	r.mu.Lock()
	sess := r.bySSRC[media.SSRCOf(pkt)]
	switch {
	case len(pkt) > media.MaxPacket || len(pkt) < 8:
		r.stats.Malformed++
		sess = nil
	case sess == nil || !now.Before(sess.until):
		r.stats.AuthFailures++
		sess = nil
	}
	if sess == nil {
		r.mu.Unlock()
		return
	}
	if media.IsRTCP(pkt) {
		r.controlLocked(sess, pkt, from, now) // unlocks
		return
	}
	payload, newest, err := sess.rx.OpenRTP(pkt, now)
	if err != nil {
		r.countLocked(err)
		r.mu.Unlock()
		return
	}
	group, speaker, voice, err := wire.DecodeMediaVoice(payload)
	var p wire.VoicePacket
	if err == nil && len(speaker) == 0 {
		err = wire.DecodeVoicePacket(voice, &p)
	}
	if err != nil || len(speaker) != 0 {
		r.stats.Malformed++
		r.mu.Unlock()
		return
	}
	moved := r.latchLocked(sess, from, newest, now)
	resend := r.resendLocked(sess, moved, now)
	r.stats.VoiceIn++
	var report []byte
	if r.reportDueLocked(sess, group, now) {
		link := r.linkLocked(sess, group, now)
		sess.reported = now
		report = media.ReceiverReport(sess.ssrc, &sess.rx.Stats,
			media.AppPacket(sess.ssrc, wire.MediaAppLink, wire.AppendMediaLink(nil, link)))
		r.stats.Reports++
	}
	acct, addr, tx := sess.acct, sess.addr, sess.tx
	// MQTT keeps the payload until it is written; the buffer is the next
	// packet's.
	voice = slices.Clone(voice)
	r.mu.Unlock()
	if report != nil {
		tx.WriteControl(r.conn, addr, report)
	}
	resend()
	if r.s.admitVoice(acct, group, &p) {
		r.s.relayVoice(group, acct, voice)
	}
}

// latchLocked moves the session to the address of its newest
// authenticated packet: a delayed packet from a former address (older
// than one already seen) cannot pull it back. It reports whether the
// session moved from an address it had.
func (r *mediaRelay) latchLocked(sess *mediaSession, from netip.AddrPort, newest bool, now time.Time) (moved bool) {
	sess.heard = now
	if !newest || from == sess.addr {
		return false
	}
	if sess.addr.IsValid() {
		moved = true
		r.stats.AddressChanges++
		r.s.log.Info("media address changed", "account", sess.acct, "from", sess.addr, "to", from)
	}
	sess.addr = from
	return moved
}

// keepTailLocked remembers an admitted packet of group's burst in
// progress, for listeners that need it again (resendLocked). voice is
// kept as it is: relayVoice's payload is never written again (MQTT keeps
// it too).
func (r *mediaRelay) keepTailLocked(group int64, speaker string, voice []byte, now time.Time) {
	if r.tails == nil {
		r.tails = make(map[int64]*voiceTail)
	}
	t := r.tails[group]
	if t == nil || t.speaker != speaker {
		t = &voiceTail{speaker: speaker}
		r.tails[group] = t
	}
	drop := 0
	for drop < len(t.pkts) && now.Sub(t.pkts[drop].at) > resendWindow {
		drop++
	}
	t.pkts = append(t.pkts[:copy(t.pkts, t.pkts[drop:])], tailPacket{now, voice})
}

// resendLocked prepares, for a listener that moved to a new address
// (moved) or has just begun listening to its group, the voice of the
// group's burst in progress relayed in the last resendWindow: sent to
// the old address, or before it listened, it never arrived. A NAT
// binding that expired while the handset was idle, renewed by the
// keep-alive it sends when the floor is taken, then costs the listener
// nothing but the delay. The listener drops what it already had. The
// returned func sends it (call it without the lock).
func (r *mediaRelay) resendLocked(sess *mediaSession, moved bool, now time.Time) func() {
	t := r.tails[sess.listen]
	if !moved || sess.listen == 0 || t == nil || t.speaker == sess.acct || len(t.pkts) == 0 ||
		now.Sub(t.pkts[len(t.pkts)-1].at) > time.Second {
		return func() {}
	}
	// Once per window at most: a device hopping addresses (or one whose
	// keys were stolen, spoofing its source) cannot make the relay send
	// a victim more than the stream it would get anyway.
	if !sess.resent.IsZero() && now.Sub(sess.resent) < resendWindow {
		return func() {}
	}
	sess.resent = now
	group, speaker, tx, addr := sess.listen, t.speaker, sess.tx, sess.addr
	var pkts [][]byte
	for _, p := range t.pkts {
		if now.Sub(p.at) <= resendWindow {
			pkts = append(pkts, p.voice)
		}
	}
	r.stats.Resent += len(pkts)
	r.s.log.Info("media: the burst so far sent again", "account", sess.acct, "group", group, "packets", len(pkts))
	return func() {
		if !r.s.isMember(sess.acct, group) {
			return
		}
		for _, v := range pkts {
			if _, err := tx.WriteVoice(r.conn, addr, group, speaker, v); err != nil {
				r.s.log.Debug("media relay resend", "to", addr, "err", err)
				return
			}
		}
	}
}

func (r *mediaRelay) countLocked(err error) {
	switch {
	case errors.Is(err, media.ErrAuth):
		r.stats.AuthFailures++
	case errors.Is(err, media.ErrReplay):
		r.stats.Replayed++
	default:
		r.stats.Malformed++
	}
}

// controlLocked takes a device's SRTCP packet: a keep-alive (answered with
// an echo, to the address it came from) or a listener's receiver report.
func (r *mediaRelay) controlLocked(sess *mediaSession, pkt []byte, from netip.AddrPort, now time.Time) {
	plain, newest, err := sess.rx.OpenRTCP(pkt)
	if err != nil {
		r.countLocked(err)
		r.mu.Unlock()
		return
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		r.stats.Malformed++
		r.mu.Unlock()
		return
	}
	moved := r.latchLocked(sess, from, newest, now)
	r.stats.ControlIn++
	var keepAlive *wire.MediaKeepAlive
	reported, rose := false, false
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.ApplicationDefined:
			if p.Name == wire.MediaAppName && p.SubType == wire.MediaAppLink {
				// A listener's own downlink queue, beside its receiver report.
				if d, err := wire.DecodeMediaLink(p.Data); err == nil {
					rose = d.DownQueueMs >= sess.down.queueMs+downRiseMs
					sess.down.queueMs = d.DownQueueMs
				} else {
					r.stats.Malformed++
				}
				continue
			}
			if p.Name != wire.MediaAppName || p.SubType != wire.MediaAppKeepAlive {
				continue
			}
			k, err := wire.DecodeMediaKeepAlive(p.Data)
			if err != nil {
				r.stats.Malformed++
				continue
			}
			keepAlive = &k
		case *rtcp.ReceiverReport:
			for _, b := range p.Reports {
				if b.SSRC == sess.ssrc {
					sess.down.fraction, sess.down.jitter, sess.down.at = b.FractionLost, b.Jitter, now
					reported = true
				}
			}
		}
	}
	if reported {
		r.noteDownLocked(sess.listen, now, rose)
	}
	acct, tx, ssrc := sess.acct, sess.tx, sess.ssrc
	if keepAlive == nil {
		resend := r.resendLocked(sess, moved, now)
		r.mu.Unlock()
		resend()
		return
	}
	r.mu.Unlock()
	// Only a group the device is a member of is sent to it.
	if keepAlive.Listen != 0 && !r.s.isMember(acct, keepAlive.Listen) {
		keepAlive.Listen = 0
		r.mu.Lock()
		r.stats.ListenRefused++
		r.mu.Unlock()
	}
	r.mu.Lock()
	joined := sess.listen != keepAlive.Listen
	sess.listen = keepAlive.Listen
	r.stats.Echoes++
	resend := r.resendLocked(sess, moved || joined, now)
	r.mu.Unlock()
	tx.WriteControl(r.conn, from, media.AppPacket(ssrc, wire.MediaAppEcho, wire.AppendMediaKeepAlive(nil, *keepAlive)))
	resend()
}

// noteDownLocked remembers that a listener of group reported (rose: its
// downlink queue grew): news for the group's talker (reportDueLocked).
func (r *mediaRelay) noteDownLocked(group int64, now time.Time, rose bool) {
	if group == 0 {
		return
	}
	if r.downNews == nil {
		r.downNews = make(map[int64]*downNews)
	}
	n := r.downNews[group]
	if n == nil {
		n = &downNews{}
		r.downNews[group] = n
	}
	n.at = now
	if rose {
		n.rose = now
	}
}

// reportDueLocked says whether talker's packet of group carries a link
// report back: a listener's queue grew since the last (reportSoonest
// apart at the least), a listener reported since (reportEvery apart),
// or reportQuiet passed without news.
func (r *mediaRelay) reportDueLocked(talker *mediaSession, group int64, now time.Time) bool {
	since := now.Sub(talker.reported)
	if since >= reportQuiet {
		return true
	}
	n := r.downNews[group]
	return n != nil && (since >= reportEvery && n.at.After(talker.reported) ||
		since >= reportSoonest && n.rose.After(talker.reported))
}

// linkLocked is the report's addition for the talker: its uplink queueing
// delay and the worst downlink among the group's UDP listeners that
// reported since its last report (each listener report counts once).
func (r *mediaRelay) linkLocked(talker *mediaSession, group int64, now time.Time) wire.MediaLink {
	d := wire.MediaLink{QueueMs: uint16(min(65535, media.JitterMs(talker.rx.Stats.Queue())))}
	for acct, a := range r.byAcct {
		s := a.live()
		if acct == talker.acct || s == nil || s.listen != group || !s.down.at.After(talker.reported) || now.Sub(s.down.at) > downlinkAge {
			continue
		}
		d.FractionLost = max(d.FractionLost, s.down.fraction)
		d.Jitter = max(d.Jitter, s.down.jitter)
		d.DownQueueMs = max(d.DownQueueMs, s.down.queueMs)
		if d.Listeners < 255 {
			d.Listeners++
		}
	}
	return d
}

// forward sends an admitted voice packet of speaker to the group's UDP
// listeners, each under its own session's keys. A simulator's scale: a
// walk over the sessions per packet.
func (r *mediaRelay) forward(group int64, speaker string, voice []byte) {
	type target struct {
		acct string
		tx   *media.Sender
		addr netip.AddrPort
	}
	now := r.s.now()
	var targets []target
	r.mu.Lock()
	r.keepTailLocked(group, speaker, voice, now)
	for acct, a := range r.byAcct {
		s := a.live()
		if acct == speaker || s == nil || s.listen != group || now.Sub(s.heard) > mediaIdle {
			continue
		}
		targets = append(targets, target{acct, s.tx, s.addr})
	}
	r.mu.Unlock()
	sent := 0
	for _, t := range targets {
		// Membership is checked again for every packet: a member removed
		// from the group stops hearing it at once, not at its next
		// keep-alive.
		if !r.s.isMember(t.acct, group) {
			continue
		}
		if _, err := t.tx.WriteVoice(r.conn, t.addr, group, speaker, voice); err == nil {
			sent++
		} else {
			r.s.log.Debug("media relay send", "to", t.addr, "err", err)
		}
	}
	if sent > 0 {
		r.mu.Lock()
		r.stats.VoiceOut += sent
		r.mu.Unlock()
	}
}

// isMember says whether account is a member of group.
func (s *Sim) isMember(account string, group int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.w.byNum(account)
	g := s.w.Groups[group]
	return m != nil && g != nil && g.member(m.ID) != nil
}
