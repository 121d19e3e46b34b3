package media

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"

	"github.com/pttagent/pttagent/wire"
)

// read receives until conn is closed.
func (c *Client) read(conn *net.UDPConn) {
	buf := make([]byte, MaxPacket+1)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Debug("media receive", "err", err)
			time.Sleep(10 * time.Millisecond) // an error that repeats must not spin
			continue
		}
		c.handle(buf[:n], from, time.Now())
	}
}

// handle takes one datagram. Nothing that fails authentication is
// answered or acted on; it is only counted.
func (c *Client) handle(pkt []byte, from netip.AddrPort, now time.Time) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c.mu.Lock()
	s := c.sessionLocked(SSRCOf(pkt))
	switch {
	case len(pkt) > MaxPacket:
		c.stats.Malformed++
		s = nil
	case s == nil && (c.cur != nil && from == c.cur.addr || c.prev != nil && from == c.prev.addr):
		c.stats.AuthFailures++
	case s == nil:
		c.stats.Foreign++
	case from != s.addr:
		c.stats.Foreign++
		s = nil
	}
	if s == nil {
		c.mu.Unlock()
		return
	}
	if IsRTCP(pkt) {
		c.controlLocked(s, pkt, now) // unlocks
		return
	}
	payload, _, err := s.rx.OpenRTP(pkt, now)
	if err != nil {
		c.countLocked(err)
		c.mu.Unlock()
		return
	}
	group, speaker, voice, err := wire.DecodeMediaVoice(payload)
	if err != nil || len(speaker) == 0 {
		c.stats.Malformed++
		c.mu.Unlock()
		return
	}
	if c.link.heardFrom(now) {
		c.noteStateLocked()
	}
	c.noteDoubtLocked(now)
	c.stats.Received++
	c.stats.RecvBytes += uint64(len(pkt))
	if string(speaker) != c.speaker {
		c.speaker = string(speaker)
	}
	sp, onVoice := c.speaker, c.o.OnVoice
	var rr []byte
	if since := now.Sub(c.lastRR); since >= c.o.ReportInterval ||
		since >= earlyReportGap && s.rx.Stats.MeanQueue() >= c.lastRRQueue+earlyReportRise {
		c.lastRR = now
		c.lastRRQueue = s.rx.Stats.IntervalQueue()
		q := min(65535, JitterMs(c.lastRRQueue))
		rr = ReceiverReport(s.ssrc, &s.rx.Stats,
			AppPacket(s.ssrc, wire.MediaAppLink, wire.AppendMediaLink(nil, wire.MediaLink{DownQueueMs: uint16(q)})))
	}
	conn := c.conn
	c.mu.Unlock()
	if onVoice != nil {
		onVoice(group, sp, voice)
	}
	if rr != nil {
		c.writeControl(conn, s, rr)
	}
}

func (c *Client) sessionLocked(ssrc uint32) *session {
	switch {
	case ssrc == 0:
		return nil
	case c.cur != nil && c.cur.ssrc == ssrc:
		return c.cur
	case c.prev != nil && c.prev.ssrc == ssrc:
		return c.prev
	}
	return nil
}

func (c *Client) countLocked(err error) {
	switch {
	case errors.Is(err, ErrAuth):
		c.stats.AuthFailures++
	case errors.Is(err, ErrReplay):
		c.stats.Replayed++
	default:
		c.stats.Malformed++
	}
}

// controlLocked takes an SRTCP packet from the relay: an echo of a
// keep-alive, or the report about this handset's talk burst.
func (c *Client) controlLocked(s *session, pkt []byte, now time.Time) {
	plain, _, err := s.rx.OpenRTCP(pkt)
	if err != nil {
		c.countLocked(err)
		c.mu.Unlock()
		return
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		c.stats.Malformed++
		c.mu.Unlock()
		return
	}
	if c.link.heardFrom(now) {
		c.noteStateLocked()
	}
	c.noteDoubtLocked(now)
	var rep *Report
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.ApplicationDefined:
			if p.Name != wire.MediaAppName {
				continue
			}
			switch p.SubType {
			case wire.MediaAppEcho:
				k, err := wire.DecodeMediaKeepAlive(p.Data)
				if err != nil {
					c.stats.Malformed++
					continue
				}
				c.stats.Echoes++
				if sent := time.Duration(k.Token - 1); k.Token != 0 && sent <= now.Sub(c.epoch) {
					r := now.Sub(c.epoch) - sent
					c.rtt.Add(r)
					c.stats.RTTMs = float64(r) / float64(time.Millisecond)
				}
				if k.Listen != c.stats.Listening && c.listen != 0 && k.Listen != c.listen {
					c.log.Warn("the relay does not send this group's voice over UDP (not a member?)", "group", c.listen)
				}
				if k.Listen != c.stats.Listening {
					c.stats.Listening = k.Listen
					c.notifyLocked()
				}
			case wire.MediaAppLink:
				d, err := wire.DecodeMediaLink(p.Data)
				if err != nil {
					c.stats.Malformed++
					continue
				}
				if rep == nil {
					rep = &Report{Time: now}
				}
				rep.DownLoss = float64(d.FractionLost) / 256
				rep.DownJitterMs = JitterMs(d.Jitter)
				rep.Listeners = int(d.Listeners)
				rep.UpQueueMs = float64(d.QueueMs)
				rep.DownQueueMs = float64(d.DownQueueMs)
			}
		case *rtcp.ReceiverReport:
			for _, b := range p.Reports {
				if b.SSRC != s.ssrc {
					continue
				}
				if rep == nil {
					rep = &Report{Time: now}
				}
				rep.UpLoss = float64(b.FractionLost) / 256
				rep.UpJitterMs = JitterMs(b.Jitter)
			}
		}
	}
	if rep != nil {
		c.stats.Report = rep
	}
	onReport := c.o.OnReport
	c.mu.Unlock()
	if rep != nil && onReport != nil {
		onReport(*rep)
	}
}

// AppPacket is an RTCP APP packet of this protocol (wire.MediaAppName)
// with subtype and data.
func AppPacket(ssrc uint32, subtype uint8, data []byte) []byte {
	b, err := rtcp.ApplicationDefined{SubType: subtype, SSRC: ssrc, Name: wire.MediaAppName, Data: data}.Marshal()
	if err != nil {
		return nil
	}
	return b
}

// ReceiverReport is an RTCP receiver report about the stream received
// under ssrc (one SSRC names both directions of a session); it starts a
// new loss interval. extra packets (an APP) join it in one compound packet.
func ReceiverReport(ssrc uint32, st *RecvStats, extra ...[]byte) []byte {
	lost := st.Lost()
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: ssrc, Reports: []rtcp.ReceptionReport{{
		SSRC: ssrc, FractionLost: st.Interval(), TotalLost: uint32(max(0, min(lost, 1<<23-1))),
		LastSequenceNumber: st.ExtMax(), Jitter: st.Jitter()}}}})
	if err != nil {
		return nil
	}
	for _, e := range extra {
		b = append(b, e...)
	}
	return b
}
