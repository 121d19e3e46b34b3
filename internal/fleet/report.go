package fleet

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured.
type Report struct {
	Options Options `json:"-"`
	Broker  string  `json:"broker"`
	Procs   int     `json:"processes"` // that ran the handsets

	Handsets     int           `json:"handsets"`
	AllConnected time.Duration `json:"all_connected_ns"` // from the first start to the last connection
	Steady       time.Duration `json:"steady_ns"`

	// Points: queued on the handsets, received by the collector (each
	// once), never received, and received again (QoS 1 redeliveries).
	Queued     uint64        `json:"queued"`
	Delivered  uint64        `json:"delivered"`
	Lost       uint64        `json:"lost"`
	Stuck      uint64        `json:"stuck"` // still queued on a handset at the end: late, not lost
	LostPoints []string      `json:"lost_points,omitempty"`
	Duplicated uint64        `json:"duplicated"`
	Unknown    uint64        `json:"unknown"` // seqs this run never queued (a broker's stale session)
	Failed     uint64        `json:"failed"`  // not queued: the queue refused them
	DrainTime  time.Duration `json:"drain_ns"`

	// Latency from the point entering the queue to its first delivery:
	// of points queued while the handset was connected, and of all.
	Latency    Percentiles `json:"latency"`
	LatencyAll Percentiles `json:"latency_all"`

	// Voice: packets the talkers published, the collector received and
	// relayed to the groups, and the listeners heard (others' packets) of
	// those they should have heard (relayed × the group's other members).
	VoiceSent, VoiceRelayed, VoiceHeard, VoiceExpected uint64
	VoiceLatency                                       Percentiles `json:"voice_latency"` // capture → a listener

	Storm *StormReport `json:"storm,omitempty"`
	Sims  *SimsReport  `json:"sims,omitempty"`

	// BrokerCPU is the broker's CPU over the steady run, in cores (1.0 =
	// one core busy); BrokerRSS its resident memory at the end (summed
	// over a cluster's nodes). ToolRSS is this process's.
	BrokerCPU float64 `json:"broker_cpu"`
	BrokerRSS int64   `json:"broker_rss"`
	ToolCPU   float64 `json:"tool_cpu"`
	ToolRSS   int64   `json:"tool_rss"`
}

// StormReport: a broker restart or a node's death.
type StormReport struct {
	Handsets int             `json:"handsets"` // whose link it dropped
	Down     time.Duration   `json:"down_ns"`  // from the disruption to the broker back
	Back     []time.Duration `json:"-"`        // each handset: the disruption → connected again
	BackP    Percentiles     `json:"back"`
}

// SimsReport: the platform simulators beside the collector.
type SimsReport struct {
	Stored    uint64        `json:"stored"`     // points stored, all simulators
	Shares    []uint64      `json:"shares"`     // by each
	MaxBehind int64         `json:"max_behind"` // largest backlog behind the collector, points (sampled every 100 ms)
	CaughtUp  time.Duration `json:"caught_up_ns"`
}

// Percentiles of a set of durations.
type Percentiles struct {
	N             int
	P50, P99, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{N: len(s), P50: at(0.50), P99: at(0.99), Max: s[len(s)-1]}
}

func (p Percentiles) String() string {
	if p.N == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %v  p99 %v  max %v  (n=%d)", round(p.P50), round(p.P99), round(p.Max), p.N)
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d.Round(10 * time.Microsecond)
	}
}

func (r *Report) fill(p *Part) {
	r.Handsets = p.Handsets
	r.Queued, r.Delivered, r.Lost, r.Duplicated, r.Stuck = p.Queued, p.Delivered, p.Lost, p.Duplicated, p.Stuck
	r.Unknown, r.Failed, r.DrainTime, r.LostPoints = p.Unknown, p.Failed, p.DrainTime, p.LostPoints
	r.Latency, r.LatencyAll = percentiles(p.Latency), percentiles(p.LatencyAll)
	r.VoiceSent, r.VoiceRelayed, r.VoiceHeard, r.VoiceExpected = p.VoiceSent, p.VoiceRelayed, p.VoiceHeard, p.VoiceExpected
	r.VoiceLatency = percentiles(p.VoiceLatency)
}

// String is the report for people.
func (r *Report) String() string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "broker %s %v; %d handsets, a point every %v, %d talking (%v every ~%v, groups of %d)\n",
		r.Broker, o.Brokers, r.Handsets, o.Period, o.Talkers, o.TalkBurst, o.TalkEvery, o.GroupSize)
	fmt.Fprintf(&b, "handsets in %d process(es); all connected after %v; steady run %v\n", r.Procs, round(r.AllConnected), round(r.Steady))
	fmt.Fprintf(&b, "points: queued %d, delivered %d, lost %d, still queued %d, duplicated %d, unknown %d, not queued %d (drained in %v)\n",
		r.Queued, r.Delivered, r.Lost, r.Stuck, r.Duplicated, r.Unknown, r.Failed, round(r.DrainTime))
	for _, l := range r.LostPoints {
		fmt.Fprintf(&b, "  lost: %s\n", l)
	}
	fmt.Fprintf(&b, "delivery latency, points queued online: %v\n", r.Latency)
	fmt.Fprintf(&b, "delivery latency, all points:          %v\n", r.LatencyAll)
	if o.Talkers > 0 {
		fmt.Fprintf(&b, "voice: sent %d packets, relayed %d, heard %d of %d relayed to listeners; capture → listener %v\n",
			r.VoiceSent, r.VoiceRelayed, r.VoiceHeard, r.VoiceExpected, r.VoiceLatency)
	}
	if s := r.Storm; s != nil {
		fmt.Fprintf(&b, "storm: %d handsets dropped, broker (node) restarted after %v; connected again after the disruption: %v; all back %v after the restart\n",
			s.Handsets, round(s.Down), s.BackP, round(s.BackP.Max-s.Down))
	}
	if s := r.Sims; s != nil {
		fmt.Fprintf(&b, "pttsim ×%d: stored %d points (shares %v); largest backlog behind the collector %d points; caught up %v after the drain\n",
			len(s.Shares), s.Stored, s.Shares, s.MaxBehind, round(s.CaughtUp))
	}
	if r.BrokerRSS > 0 {
		per := 1000 / float64(max(1, r.Handsets))
		fmt.Fprintf(&b, "broker: CPU %.1f%% of a core, RSS %.1f MB; per 1000 handsets: %.1f%% of a core, %.1f MB\n",
			100*r.BrokerCPU, mb(r.BrokerRSS), 100*r.BrokerCPU*per, mb(r.BrokerRSS)*per)
	}
	fmt.Fprintf(&b, "tool (the handsets and the collectors): CPU %.0f%% of a core, RSS %.0f MB\n", 100*r.ToolCPU, mb(r.ToolRSS))
	return b.String()
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }
