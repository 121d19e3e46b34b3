package fleet

import (
	"fmt"
	"time"
)

// Part is what one process's handsets and collector counted: the raw
// material of a Report, merged across worker processes.
type Part struct {
	Handsets                                             int
	Queued, Delivered, Lost, Duplicated, Unknown, Failed uint64
	// Stuck: never received and still in a handset's queue at the end
	// (not acknowledged by the broker: late, not lost). Lost counts only
	// the points the broker acknowledged and never delivered.
	Stuck uint64
	// LostPoints names the first lost points: account, seq, when queued.
	LostPoints []string
	DrainTime  time.Duration
	// First deliveries: of points queued while the link was up, of all.
	Latency, LatencyAll                                []time.Duration
	VoiceSent, VoiceRelayed, VoiceHeard, VoiceExpected uint64
	VoiceLatency                                       []time.Duration
	// Each handset's link changes, Unix ns.
	Ups, Downs [][]int64
}

func partOf(hs []*handset, col *collector) *Part {
	p := &Part{Handsets: len(hs)}
	members := map[int64]uint64{}
	for _, h := range hs {
		members[h.group]++
	}
	for _, h := range hs {
		inQueue := uint64(h.q.Len())
		h.mu.Lock()
		var missing uint64
		var lost []string
		for i, n := range h.got {
			p.Queued++
			if n == 0 {
				missing++
				lost = append(lost, fmt.Sprintf("%s seq %d queued %s", h.acct, h.first+uint64(i), h.appended[i].Format("15:04:05.000")))
			} else {
				p.Delivered++
			}
		}
		stuck := min(missing, inQueue)
		if missing > stuck && len(p.LostPoints) < 20 {
			p.LostPoints = append(p.LostPoints, lost[:missing-stuck]...)
		}
		p.Stuck += stuck
		p.Lost += missing - stuck
		p.VoiceLatency = append(p.VoiceLatency, h.voiceLat...)
		p.VoiceSent += h.voiceSent
		p.VoiceHeard += h.voiceHeard
		if col.o.Subscribe {
			// Each relayed packet is for every other member of the
			// talker's group (they all subscribe).
			p.VoiceExpected += h.voiceRelayed * (members[h.group] - 1)
		}
		p.Ups = append(p.Ups, unixNanos(h.ups))
		p.Downs = append(p.Downs, unixNanos(h.downs))
		h.mu.Unlock()
		p.Failed += h.q.Stats().Failed
	}
	p.Duplicated = col.dups.Load()
	p.Unknown = col.unknown.Load()
	p.VoiceRelayed = col.relayed.Load()
	col.mu.Lock()
	p.Latency = append(p.Latency, col.lat...)
	p.LatencyAll = append(p.LatencyAll, col.latAll...)
	col.mu.Unlock()
	return p
}

func unixNanos(ts []time.Time) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.UnixNano()
	}
	return out
}

// add merges q into p.
func (p *Part) add(q *Part) {
	p.Handsets += q.Handsets
	p.Queued += q.Queued
	p.Delivered += q.Delivered
	p.Lost += q.Lost
	p.Stuck += q.Stuck
	p.LostPoints = append(p.LostPoints, q.LostPoints...)
	p.Duplicated += q.Duplicated
	p.Unknown += q.Unknown
	p.Failed += q.Failed
	p.DrainTime = max(p.DrainTime, q.DrainTime)
	p.Latency = append(p.Latency, q.Latency...)
	p.LatencyAll = append(p.LatencyAll, q.LatencyAll...)
	p.VoiceSent += q.VoiceSent
	p.VoiceRelayed += q.VoiceRelayed
	p.VoiceHeard += q.VoiceHeard
	p.VoiceExpected += q.VoiceExpected
	p.VoiceLatency = append(p.VoiceLatency, q.VoiceLatency...)
	p.Ups = append(p.Ups, q.Ups...)
	p.Downs = append(p.Downs, q.Downs...)
}
