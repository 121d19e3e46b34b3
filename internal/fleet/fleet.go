// Package fleet is the fleet load tool behind cmd/pttfleet: N virtual
// handsets in one process, each with its own MQTT connection, on-disk
// track queue and track sender — the agent's own uplink/mqtt (with its
// jittered reconnect backoff), uplink/queue, uplink.TrackSender and wire —
// moving along generated routes, some of them talking, against one broker
// or a cluster; a collector stands for the platform. It reports points
// delivered, lost and duplicated, delivery latency, how long a connect
// storm takes to settle, and the broker's CPU and memory.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pttagent/pttagent/agent/config"
	"github.com/pttagent/pttagent/internal/brokers"
)

// Options describe a run. Zero values take the defaults of Defaults.
type Options struct {
	Handsets int
	// Period between two track points of a handset (the platform's
	// track setting; 10 s is a busy fleet, the agent's default is 60 s).
	Period time.Duration
	// Talkers: the first this many handsets talk, TalkBurst every
	// TalkEvery (±50 %), 17 voice packets a second while they do.
	Talkers              int
	TalkBurst, TalkEvery time.Duration
	// GroupSize handsets per talk group (voice fan-out).
	GroupSize int
	// Subscribe: each handset holds the subscriptions of an agent with a
	// platform (events, floor messages, its group's voice).
	Subscribe bool
	// Duration of the steady run, after every handset connected.
	Duration time.Duration
	// Ramp: handsets started per second at the beginning.
	Ramp int
	// Storm, when > 0: this far into the steady run the broker is
	// restarted (one mosquitto: stopped, then started after StormDown) or
	// node StormNode of a cluster is killed (SIGKILL) and started again
	// after StormDown: every handset on it reconnects at once.
	Storm, StormDown time.Duration
	StormNode        int
	// Drain bounds the wait, after the points stop, for the last of them.
	Drain time.Duration

	// Brokers to use. Empty: Broker says which to start.
	Brokers []string
	// Broker to start when Brokers is empty: "mosquitto" or "nats" (a
	// 3-node cluster with MQTT and JetStream).
	Broker string
	// Spread starts each handset's broker list at another node.
	Spread bool
	// Sims: platform simulators (pttsim) taking the tracks too, through a
	// shared subscription when more than one, to measure whether they
	// keep up (one process only; not on NATS, which has no $share).
	Sims int
	// NATSMQTT is added to the mqtt {} block of a started NATS cluster's
	// nodes (e.g. "js_api_timeout: 15s").
	NATSMQTT string

	Prefix                     string
	KeepAlive, ConnectTimeout  time.Duration
	ReconnectMin, ReconnectMax time.Duration
	AckTimeout                 time.Duration

	// Dir holds the handsets' queues (and a started broker's files);
	// empty: a new directory under /dev/shm (or $TMPDIR), removed after.
	Dir string
	// Procs: processes to run the handsets in; 0 picks as many as the
	// open-file limit needs (Run).
	Procs int
	// First and Worker place a worker's handsets in the fleet: handset i
	// of the worker is handset First+i of the fleet; Worker numbers its
	// collector (0 in a run of one process).
	First, Worker int

	Logger *slog.Logger `json:"-"` // the tool's own messages
	// HandsetLog receives the handsets' parts' logs (nil: errors only).
	HandsetLog *slog.Logger `json:"-"`
	// Verbose makes workers log the handsets' warnings.
	Verbose bool
}

// Defaults are the agent's own settings (agent/config.Default) where a
// handset has one: keep-alive, connect timeout, the reconnect backoff's
// bounds, ack timeout, topic prefix.
func Defaults() Options {
	m := config.Default().MQTT
	return Options{Handsets: 100, Period: 10 * time.Second, TalkBurst: 5 * time.Second, TalkEvery: 60 * time.Second,
		GroupSize: 20, Subscribe: true, Duration: time.Minute, Ramp: 500, StormDown: time.Second, Drain: time.Minute,
		Broker: "mosquitto", Spread: true, Prefix: m.TopicPrefix, KeepAlive: m.KeepAlive.D(), ConnectTimeout: m.ConnectTimeout.D(),
		ReconnectMin: m.ReconnectMin.D(), ReconnectMax: m.ReconnectMax.D(), AckTimeout: m.AckTimeout.D()}
}

func (o *Options) accountOf(i int) string { return "fleet-" + strconv.Itoa(i+1) }

// Run runs the fleet and reports. A run that could not start is an error;
// one that lost points is a Report that says so.
//
// A process holds three files per handset (its socket, its queue and the
// queue's seq mark). When the open-file limit cannot hold them all (the
// hard limit cannot be raised without CAP_SYS_RESOURCE), or Procs says so,
// the handsets run in worker processes — this program started again, see
// Worker — each with its own topic prefix and collector, so that the
// broker carries the same load as from one process.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger
	procs := o.Procs
	if procs == 0 {
		procs = procsFor(o.Handsets)
	}
	if procs == 1 {
		if err := RaiseFileLimit(filesFor(o.Handsets)); err != nil {
			return nil, err
		}
	}
	if o.Dir == "" {
		base := os.TempDir()
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			// One flash chip per real handset: 10 000 fsyncs on one disk
			// would measure the disk, not the fleet.
			base = "/dev/shm"
		}
		d, err := os.MkdirTemp(base, "pttfleet-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	b, err := startBroker(&o)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	log.Info("broker", "kind", b.kind, "urls", o.Brokers, "processes", procs)

	// The simulators subscribe before the first handset publishes.
	var (
		sm      *sims
		inGroup atomic.Pointer[group]
	)
	if o.Sims > 0 {
		if procs > 1 || (o.Sims > 1 && b.nats != nil) {
			return nil, errors.New("pttsim: in a run of one process only, and one simulator on NATS (no $share)")
		}
		delivered := func() uint64 {
			if g := inGroup.Load(); g != nil {
				return g.col.firsts.Load()
			}
			return 0
		}
		if sm, err = startSims(&o, o.Sims, delivered); err != nil {
			return nil, err
		}
		defer sm.stop()
	}
	var fl fleetParts
	if procs == 1 {
		g, err := startGroup(ctx, o)
		if err != nil {
			return nil, err
		}
		defer g.close()
		inGroup.Store(g)
		fl = g
	} else {
		w, err := startWorkers(ctx, o, procs)
		if err != nil {
			return nil, err
		}
		defer w.close()
		fl = w
	}
	r := &Report{Options: o, Broker: b.kind, Procs: procs}
	r.AllConnected = fl.connectedAfter()
	log.Info("all handsets connected", "handsets", o.Handsets, "after", r.AllConnected.Round(time.Millisecond))

	// Steady state, with the storm in the middle of it when asked. The
	// broker's usage is measured up to the storm: a restarted process
	// starts its counters again.
	u0, _ := b.usage()
	tool0 := fl.usage()
	t0 := time.Now()
	measure := func() {
		if u1, err := b.usage(); err == nil {
			r.BrokerCPU = float64(u1.CPU-u0.CPU) / float64(time.Since(t0))
			r.BrokerRSS = u1.RSS
		}
		tool1 := fl.usage()
		r.ToolCPU = float64(tool1.CPU-tool0.CPU) / float64(time.Since(t0))
		r.ToolRSS = tool1.RSS
	}
	var at, restored time.Time
	if o.Storm > 0 {
		if err := sleep(ctx, o.Storm); err != nil {
			return nil, err
		}
		measure()
		at = time.Now()
		if !b.disrupt(o.StormNode) {
			return nil, errors.New("storm: an external broker cannot be restarted by the tool")
		}
		if err := sleep(ctx, o.StormDown); err != nil {
			return nil, err
		}
		if err := b.restore(o.StormNode); err != nil {
			return nil, err
		}
		restored = time.Now()
		if rest := o.Duration - time.Since(t0); rest > 0 {
			if err := sleep(ctx, rest); err != nil {
				return nil, err
			}
		}
	} else {
		if err := sleep(ctx, o.Duration); err != nil {
			return nil, err
		}
		measure()
	}
	r.Steady = time.Since(t0)

	// The points stop; what was taken must all arrive.
	p, err := fl.finish(ctx)
	if err != nil {
		return nil, err
	}
	r.fill(p)
	if sm != nil {
		began := time.Now()
		waitUntil(ctx, time.Minute, func() bool { return sm.stored() >= r.Delivered })
		r.Sims = &SimsReport{Stored: sm.stored(), Shares: sm.shares(), MaxBehind: sm.maxBehind.Load(), CaughtUp: time.Since(began)}
	}
	if o.Storm > 0 {
		r.Storm = stormOf(p, at, restored)
	}
	return r, nil
}

// fleetParts is the handsets of a run: in this process or in workers.
type fleetParts interface {
	connectedAfter() time.Duration
	usage() brokers.Usage // of the processes running the handsets
	finish(ctx context.Context) (*Part, error)
	close()
}

// filesFor is the open-file limit n handsets need in one process.
func filesFor(n int) uint64 { return uint64(n)*3 + 512 }

// procsFor is how many processes n handsets need: one if the open-file
// limit can be raised far enough, else as many as the hard limit divides
// them into.
func procsFor(n int) int {
	if RaiseFileLimit(filesFor(n)) == nil {
		return 1
	}
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1
	}
	per := max(1, (int(l.Max)-512)/3)
	return (n + per - 1) / per
}

// stormOf: which handsets the disruption at at dropped, and how long
// each took to be connected again.
func stormOf(p *Part, at, restored time.Time) *StormReport {
	s := &StormReport{Down: restored.Sub(at)}
	for i := range p.Downs {
		dropped := false
		for _, d := range p.Downs[i] {
			if d > at.UnixNano() {
				dropped = true
			}
		}
		if !dropped {
			continue
		}
		s.Handsets++
		for _, u := range p.Ups[i] {
			if u > at.UnixNano() {
				s.Back = append(s.Back, time.Duration(u-at.UnixNano()))
				break
			}
		}
	}
	s.BackP = percentiles(s.Back)
	return s
}

func connected(hs []*handset) int {
	n := 0
	for _, h := range hs {
		if up, _ := h.mq.State(); up {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// waitUntil polls cond every 50 ms for up to d.
func waitUntil(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// RaiseFileLimit raises the process's open-file limit to at least n: a
// handset holds a socket and two files. As root the hard limit is raised
// too.
func RaiseFileLimit(n uint64) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur >= n {
		return nil
	}
	want := l
	want.Cur = n
	if want.Max < n {
		want.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return fmt.Errorf("open files: need %d, the limit is %d (hard %d) and cannot be raised: %w (run as root, or ulimit -n)", n, l.Cur, l.Max, err)
	}
	return nil
}

// broker is the broker (or cluster) of a run.
type broker struct {
	kind string
	mosq *brokers.Mosquitto
	nats *brokers.Cluster
	mu   sync.Mutex
}

func startBroker(o *Options) (*broker, error) {
	if len(o.Brokers) > 0 {
		return &broker{kind: "external"}, nil
	}
	switch o.Broker {
	case "mosquitto":
		m, err := brokers.StartMosquitto(o.Dir, "persistence true\npersistence_location "+o.Dir+"/\n")
		if err != nil {
			return nil, err
		}
		o.Brokers = []string{m.URL()}
		return &broker{kind: "mosquitto", mosq: m}, nil
	case "nats":
		c, err := brokers.StartNATS(brokers.NATSOptions{Dir: o.Dir, MaxAckPending: 8192, MQTTConfig: o.NATSMQTT})
		if err != nil {
			return nil, err
		}
		o.Brokers = c.URLs(0)
		return &broker{kind: "nats-3", nats: c}, nil
	}
	return nil, fmt.Errorf("broker %q: want mosquitto or nats (or -brokers URLs)", o.Broker)
}

func (b *broker) stop() {
	if b.mosq != nil {
		b.mosq.Stop()
	}
	if b.nats != nil {
		b.nats.Stop()
	}
}

// usage sums the broker's processes.
func (b *broker) usage() (brokers.Usage, error) {
	var pids []int
	switch {
	case b.mosq != nil:
		pids = append(pids, b.mosq.Pid())
	case b.nats != nil:
		for _, n := range b.nats.Nodes {
			pids = append(pids, n.Pid())
		}
	default:
		return brokers.Usage{}, errors.New("external broker")
	}
	var sum brokers.Usage
	for _, pid := range pids {
		if pid == 0 {
			continue
		}
		u, err := brokers.Proc(pid)
		if err != nil {
			return sum, err
		}
		sum.CPU += u.CPU
		sum.RSS += u.RSS
	}
	return sum, nil
}

// disrupt stops mosquitto (cleanly: it saves its sessions) or kills a
// cluster node; it reports whether it did anything.
func (b *broker) disrupt(node int) bool {
	switch {
	case b.mosq != nil:
		b.mosq.Stop()
	case b.nats != nil:
		b.nats.Kill(node)
	default:
		return false
	}
	return true
}

func (b *broker) restore(node int) error {
	switch {
	case b.mosq != nil:
		return b.mosq.Start()
	case b.nats != nil:
		return b.nats.Restart(node)
	}
	return nil
}
