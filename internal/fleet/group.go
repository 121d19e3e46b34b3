package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pttagent/pttagent/internal/brokers"
)

// group is a set of handsets and their collector in this process.
type group struct {
	o          Options
	hs         []*handset
	col        *collector
	g          errgroup.Group
	stop       context.CancelFunc
	stopPoints context.CancelFunc
	connected  time.Duration
}

// startGroup opens the handsets' queues, connects the collector, starts
// the handsets at o.Ramp a second and returns once all are connected.
func startGroup(ctx context.Context, o Options) (*group, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HandsetLog == nil {
		level := slog.LevelError
		if o.Verbose {
			level = slog.LevelWarn
		}
		o.HandsetLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	gr := &group{o: o, hs: make([]*handset, o.Handsets)}
	for i := range gr.hs {
		h, err := newHandset(&gr.o, o.First+i, o.HandsetLog)
		if err != nil {
			gr.close()
			return nil, err
		}
		gr.hs[i] = h
	}
	gr.col = newCollector(&gr.o, gr.hs)
	if err := gr.col.connect(); err != nil {
		gr.close()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	pointsCtx, stopPoints := context.WithCancel(runCtx)
	gr.stop, gr.stopPoints = stop, stopPoints
	began := time.Now()
	every := time.Second / time.Duration(max(1, o.Ramp))
	for _, h := range gr.hs {
		gr.g.Go(func() error { return h.run(runCtx, pointsCtx, &gr.o) })
		if err := sleep(ctx, every); err != nil {
			gr.close()
			return nil, err
		}
	}
	if err := waitUntil(ctx, 10*time.Minute, func() bool { return connected(gr.hs) == len(gr.hs) }); err != nil {
		n := connected(gr.hs)
		gr.close()
		return nil, fmt.Errorf("handsets connected: %d of %d after 10 min: %w", n, len(gr.hs), err)
	}
	gr.connected = time.Since(began)
	return gr, nil
}

func (gr *group) connectedAfter() time.Duration { return gr.connected }

func (gr *group) usage() brokers.Usage {
	u, _ := brokers.Proc(os.Getpid())
	return u
}

// finish stops the points, waits (up to o.Drain) for the last of them to
// arrive, stops the handsets and counts.
func (gr *group) finish(ctx context.Context) (*Part, error) {
	gr.stopPoints()
	// A point being queued as the points stop is the last one.
	for _, h := range gr.hs {
		<-h.reported
	}
	began := time.Now()
	waitUntil(ctx, gr.o.Drain, func() bool {
		for _, h := range gr.hs {
			if !h.drained() {
				return false
			}
		}
		return true
	})
	drain := time.Since(began)
	gr.stop()
	if err := gr.g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		gr.o.Logger.Warn("a handset ended with an error", "err", err)
	}
	p := partOf(gr.hs, gr.col)
	p.DrainTime = drain
	return p, ctx.Err()
}

func (gr *group) close() {
	if gr.stop != nil {
		gr.stop()
		gr.g.Wait()
	}
	if gr.col != nil {
		gr.col.close()
	}
	for _, h := range gr.hs {
		if h != nil {
			h.q.Close()
		}
	}
}
