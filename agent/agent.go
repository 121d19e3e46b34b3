// Package agent runs the handset daemon: the GPS source, the track
// reporter, the on-disk queue and the MQTT uplink, the platform sync and
// push-to-talk, under one errgroup, with one health register they all
// report to. Each part is a Run(ctx) component; cancelling the context is
// the only way to stop it.
//
// Assemble builds every part from the config file (the one place that
// knows the config); New takes the parts already built and wires them to
// each other. Push-to-talk, the part with hardware, takes its devices
// behind small interfaces (agent/ptt), so its tests run on fakes.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/agent/platformsync"
	"github.com/pttagent/pttagent/agent/ptt"
	"github.com/pttagent/pttagent/agent/track"
	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/internal/memtrim"
	"github.com/pttagent/pttagent/uplink"
	"github.com/pttagent/pttagent/uplink/alert"
	"github.com/pttagent/pttagent/uplink/media"
	"github.com/pttagent/pttagent/uplink/mqtt"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/uplink/radio"
)

// Parts are the agent's components, built (Assemble does it from the
// config) but not running.
type Parts struct {
	Version string
	// Account and Name are the device's, for status and the log.
	Account, Name string
	Logger        *slog.Logger
	Health        *health.Tracker
	MQTT          *mqtt.Client
	// Brokers are the broker addresses, for the log.
	Brokers []string
	GPS     *gps.Source
	Tracks  *track.Reporter
	// TrackSettings are the reporter's settings at start.
	TrackSettings track.Settings
	// OpenQueue opens the track queue (state_dir/tracks.db); Run calls it
	// and closes the queue when it returns.
	OpenQueue func() (*queue.Queue, error)
	// Sender sends the queue; Run gives it the queue.
	Sender *uplink.TrackSender
	// Sync is nil without a platform; Dialect names the platform's.
	Sync    *platformsync.Engine
	Dialect string
	// PTT is nil for a handset without push-to-talk.
	PTT *ptt.PTT
	// Media is the UDP voice path; nil when voice goes only over MQTT.
	Media *media.Client
	// Alerts are the SOS key's emergency messages waiting for the
	// platform; nil without push-to-talk.
	Alerts *alert.Outbox

	caps *capsFollowers // the parts following the platform's capabilities
	rad  *radio.Radio   // when the cellular radio is awake, and whether voice flows
}

// Agent is one running handset daemon.
type Agent struct {
	p   Parts
	log *slog.Logger

	mu    sync.Mutex
	queue *queue.Queue
	start time.Time

	watchEvery time.Duration
	onWatch    func(now time.Time, s Status) // see OnWatch
}

// watchEvery is the main loop's pace when nobody asks for a faster one:
// it only refreshes the queue's health then (the other parts report their
// own), so a handset's CPU may sleep.
const watchEvery = 30 * time.Second

// New wires parts to each other: the platform's settings drive the track
// reporter, its text messages go to push-to-talk, and the GNSS receiver,
// the broker connection and the platform client report to health.
func New(p Parts) *Agent {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{p: p, log: p.Logger, watchEvery: watchEvery}
	p.GPS.OnState = func(connected bool, err error) {
		if connected {
			p.Health.SetHealthy(health.GPSAbsent)
		} else {
			p.Health.Set(health.GPSAbsent, err)
		}
	}
	if p.Sync != nil {
		p.Sync.OnChange = a.platformChanged
		p.Sync.Client = reportingClient{Client: p.Sync.Client, health: p.Health}
		if p.PTT != nil {
			p.Sync.OnEvent = p.PTT.OnEvent
		}
	}
	return a
}

// Run runs until ctx is cancelled or a part fails for good. Points in the
// queue stay on disk for the next start.
func (a *Agent) Run(ctx context.Context) error {
	q, err := a.p.OpenQueue()
	if err != nil {
		return err
	}
	defer q.Close()
	a.p.Tracks.Queue, a.p.Sender.Queue = q, q
	a.mu.Lock()
	a.queue, a.start = q, time.Now()
	a.mu.Unlock()

	st := q.Stats()
	if st.Recovered != "" {
		a.log.Error("the track queue was damaged and has been set aside; a fresh one is in use", "what", st.Recovered,
			"kept", st.SetAside)
	}
	if len(st.SetAside) > 0 {
		// Shown until a technician has looked at (and removed) the copies.
		a.p.Health.SetUnhealthy(health.QueueCorrupt, fmt.Sprintf("damaged queue kept as %s", strings.Join(st.SetAside, ", ")))
	}
	a.log.Info("pttagent starting", "version", a.p.Version, "device", a.p.Account,
		"queued_points", st.Len, "next_seq", st.LastSeq+1, "gps", a.p.GPS.Device, "brokers", a.p.Brokers)

	fixes, toTracks := make(chan gps.Fix, 4), make(chan gps.Fix, 4)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.p.MQTT.Run(ctx) })
	g.Go(func() error { return a.followUplink(ctx) })
	g.Go(func() error { return a.p.Sender.Run(ctx) })
	g.Go(func() error { return a.p.GPS.Run(ctx, fixes) })
	g.Go(func() error { return a.followFixes(ctx, fixes, toTracks) })
	g.Go(func() error { return a.p.Tracks.Run(ctx, a.p.TrackSettings, toTracks) })
	if a.p.Sync != nil {
		g.Go(func() error { return a.p.Sync.Run(ctx) })
	}
	if a.p.PTT != nil {
		g.Go(func() error { return a.p.PTT.Run(ctx) })
	}
	if a.p.Media != nil {
		g.Go(func() error { return a.p.Media.Run(ctx) })
	}
	if a.p.Alerts != nil {
		g.Go(func() error { return a.p.Alerts.Run(ctx) })
	}
	g.Go(func() error { return a.watch(ctx) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	st = q.Stats()
	a.log.Info("pttagent stopped", "queued_points", st.Len, "last_seq", st.LastSeq)
	return err
}

// OnWatch has f called from the agent's main loop with a fresh status:
// at once when the loop starts, at least every every (0: the loop's own
// pace, 30 s), and whenever health changes. systemd's READY=1, WATCHDOG=1
// and STATUS= hang on it, so a stalled loop (a part holding its lock
// forever) stops the pings and the watchdog restarts the agent. f must not
// block. Call it before Run.
func (a *Agent) OnWatch(every time.Duration, f func(now time.Time, s Status)) {
	if every > 0 {
		a.watchEvery = every
	}
	a.onWatch = f
}

// watch is the main loop: the queue's health, and OnWatch's callback.
func (a *Agent) watch(ctx context.Context) error {
	start, trimmed := time.Now(), false // before the ticker: its ticks are ≥ start + k × watchEvery
	t := time.NewTicker(a.watchEvery)
	defer t.Stop()
	_, changed := a.p.Health.Watch()
	tick := func(now time.Time) {
		s := a.Status()
		a.checkQueue(s.Tracks)
		if a.onWatch != nil {
			a.warnings(&s)
			a.onWatch(now, s)
		}
		if !trimmed && now.Sub(start) >= trimAfter && voiceIdle(s.PTT) {
			trimmed = true
			a.trimStartup()
		}
	}
	tick(time.Now())
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			tick(now)
		case <-changed:
			_, changed = a.p.Health.Watch()
			tick(time.Now())
		}
	}
}

// trimAfter is when the agent unmaps the code pages its start-up used
// (memtrim): by then the parts have started, connected and opened their
// devices, and what runs from then on is the steady state.
const trimAfter = time.Minute

// voiceIdle says nothing is being said or heard: the voice path's pages
// are not unmapped under a burst, nor its libraries while they may load a
// plugin.
func voiceIdle(p *ptt.Status) bool {
	return p == nil || (!p.Receiving && !p.Playing && p.Floor != "has-permission" && p.Floor != "pending-release")
}

// trimStartup unmaps the binary's and libraries' clean read-only pages
// once (on a watch tick, not a timer of its own): an idle handset kept
// ~9 MiB of its binary and ~7 MiB of libraries mapped after start-up, of
// which it runs about 1.5 MiB (BENCHMARKS.md, idle cost).
func (a *Agent) trimStartup() {
	t0 := time.Now()
	r, err := memtrim.Unmap()
	if err != nil {
		a.log.Debug("start-up pages not unmapped", "err", err)
		return
	}
	mib := func(b int64) float64 { return math.Round(float64(b)/(1<<20)*10) / 10 }
	a.log.Info("start-up pages unmapped", "mappings", r.Mappings, "left_written", r.Skipped, "left_loaded_later", r.Later,
		"rss_before_mib", mib(r.RSSBefore), "rss_after_mib", mib(r.RSSAfter), "took", time.Since(t0).Round(time.Millisecond))
}
