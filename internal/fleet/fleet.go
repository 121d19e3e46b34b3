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
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

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

	Prefix                     string
	KeepAlive, ConnectTimeout  time.Duration
	ReconnectMin, ReconnectMax time.Duration
	AckTimeout                 time.Duration

	// Dir holds the handsets' queues (and a started broker's files);
	// empty: a new directory under /dev/shm (or $TMPDIR), removed after.
	Dir    string
	Logger *slog.Logger // the tool's own messages
	// HandsetLog receives the handsets' parts' logs (nil: errors only).
	HandsetLog *slog.Logger
}

// Defaults are the agent's own settings (agent/config) where a handset has
// one: keep-alive 30 s, connect timeout 15 s, reconnect backoff 1 s – 2 min
// with jitter, ack timeout 30 s.
func Defaults() Options {
	return Options{Handsets: 100, Period: 10 * time.Second, TalkBurst: 5 * time.Second, TalkEvery: 60 * time.Second,
		GroupSize: 20, Subscribe: true, Duration: time.Minute, Ramp: 500, StormDown: time.Second, Drain: time.Minute,
		Broker: "mosquitto", Spread: true, Prefix: "ptt", KeepAlive: 30 * time.Second, ConnectTimeout: 15 * time.Second,
		ReconnectMin: time.Second, ReconnectMax: 2 * time.Minute, AckTimeout: 30 * time.Second}
}

func (o *Options) accountOf(i int) string { return "fleet-" + strconv.Itoa(i+1) }

// Run runs the fleet and reports. A run that could not start is an error;
// one that lost points is a Report that says so.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HandsetLog == nil {
		o.HandsetLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	log := o.Logger
	if err := RaiseFileLimit(uint64(o.Handsets)*4 + 1024); err != nil {
		return nil, err
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
	log.Info("broker", "kind", b.kind, "urls", o.Brokers)

	hs := make([]*handset, o.Handsets)
	for i := range hs {
		if hs[i], err = newHandset(&o, i, o.HandsetLog); err != nil {
			return nil, err
		}
	}
	defer func() {
		for _, h := range hs {
			h.q.Close()
		}
	}()
	col := newCollector(&o, hs)
	if err := col.connect(); err != nil {
		return nil, err
	}
	defer col.close()

	r := &Report{Options: o, Broker: b.kind}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	pointsCtx, stopPoints := context.WithCancel(runCtx)
	defer stopPoints()
	var g errgroup.Group
	began := time.Now()
	every := time.Second / time.Duration(max(1, o.Ramp))
	for _, h := range hs {
		g.Go(func() error { return h.run(runCtx, pointsCtx, &o) })
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
	if err := waitUntil(ctx, 10*time.Minute, func() bool { return connected(hs) == len(hs) }); err != nil {
		return nil, fmt.Errorf("handsets connected: %d of %d after 10 min: %w", connected(hs), len(hs), err)
	}
	r.AllConnected = time.Since(began)
	log.Info("all handsets connected", "handsets", len(hs), "after", r.AllConnected.Round(time.Millisecond))

	// Steady state, with the storm in the middle of it when asked. The
	// broker's usage is measured up to the storm: a restarted process
	// starts its counters again.
	u0, _ := b.usage()
	self0, _ := brokers.Proc(os.Getpid())
	t0 := time.Now()
	measure := func() {
		if u1, err := b.usage(); err == nil {
			r.BrokerCPU = float64(u1.CPU-u0.CPU) / float64(time.Since(t0))
			r.BrokerRSS = u1.RSS
		}
		if self1, err := brokers.Proc(os.Getpid()); err == nil {
			r.ToolCPU = float64(self1.CPU-self0.CPU) / float64(time.Since(t0))
		}
	}
	if o.Storm > 0 {
		if err := sleep(ctx, o.Storm); err != nil {
			return nil, err
		}
		measure()
		if err := storm(ctx, &o, b, hs, r); err != nil {
			return nil, err
		}
		if rest := o.Duration - time.Since(t0); rest > 0 {
			if err := sleep(ctx, rest); err != nil {
				return nil, err
			}
		}
	} else if err := sleep(ctx, o.Duration); err != nil {
		return nil, err
	}
	if o.Storm == 0 {
		measure()
	}
	if self, err := brokers.Proc(os.Getpid()); err == nil {
		r.ToolRSS = self.RSS
	}
	r.Steady = time.Since(t0)

	// The points stop; what was taken must all arrive.
	stopPoints()
	drainStart := time.Now()
	waitUntil(ctx, o.Drain, func() bool {
		for _, h := range hs {
			if !h.drained() {
				return false
			}
		}
		return true
	})
	r.DrainTime = time.Since(drainStart)
	stop()
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("a handset ended with an error", "err", err)
	}
	r.fill(hs, col)
	return r, nil
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

// storm restarts the broker (or kills and restarts a cluster node) and
// measures how long the handsets it dropped take to be back.
func storm(ctx context.Context, o *Options, b *broker, hs []*handset, r *Report) error {
	at := time.Now()
	dropped := b.disrupt(o.StormNode)
	if err := sleep(ctx, o.StormDown); err != nil {
		return err
	}
	if err := b.restore(o.StormNode); err != nil {
		return err
	}
	restored := time.Now()
	// Who lost the link: every handset whose link went down after at.
	var lost []*handset
	waitUntil(ctx, 5*time.Second, func() bool {
		lost = lost[:0]
		for _, h := range hs {
			if h.downSince(at) {
				lost = append(lost, h)
			}
		}
		return !dropped || len(lost) > 0
	})
	err := waitUntil(ctx, 10*time.Minute, func() bool {
		for _, h := range lost {
			if up, _ := h.mq.State(); !up {
				return false
			}
		}
		return true
	})
	s := StormReport{Handsets: len(lost), Down: restored.Sub(at)}
	for _, h := range lost {
		if t, ok := h.upAfter(at); ok {
			s.Back = append(s.Back, t.Sub(at))
		}
	}
	r.Storm = &s
	if err != nil {
		return fmt.Errorf("storm: %d of %d handsets back after 10 min", len(s.Back), len(lost))
	}
	return nil
}

func (h *handset) downSince(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.downs) > 0 && h.downs[len(h.downs)-1].After(t)
}

func (h *handset) upAfter(t time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, u := range h.ups {
		if u.After(t) {
			return u, true
		}
	}
	return time.Time{}, false
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
		c, err := brokers.StartNATS(brokers.NATSOptions{Dir: o.Dir, MaxAckPending: 8192})
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
