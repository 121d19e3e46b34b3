package fleet

import (
	"time"
)

// Part is what one process's handsets and collector counted: the raw
// material of a Report, merged across worker processes.
type Part struct {
	Handsets                                             int
	Queued, Delivered, Lost, Duplicated, Unknown, Failed uint64
	DrainTime                                            time.Duration
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
		h.mu.Lock()
		for _, n := range h.got {
			p.Queued++
			if n == 0 {
				p.Lost++
			} else {
				p.Delivered++
			}
		}
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
