package fleet

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
)

// sims are platform simulators taking the fleet's tracks beside the
// collector, to measure whether they keep up: with more than one, through
// a shared subscription, each a share (pttsim.Options.TrackShare).
type sims struct {
	ss     []*pttsim.Sim
	cancel context.CancelFunc
	wg     sync.WaitGroup

	maxBehind atomic.Int64 // largest backlog seen: points the collector had and the simulators not
	sampling  chan struct{}
}

// SimShare is the shared subscription's group of the simulators.
const SimShare = "pttfleet"

func startSims(o *Options, n int, delivered func() uint64) (*sims, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sims{cancel: cancel, sampling: make(chan struct{})}
	for range n {
		po := pttsim.Options{Prefix: o.Prefix, Broker: o.Brokers[len(o.Brokers)-1], FileDir: o.Dir,
			Logger: slog.New(slog.DiscardHandler)}
		if n > 1 {
			po.TrackShare = SimShare
		}
		sim, err := pttsim.New(po)
		if err != nil {
			s.stop()
			return nil, err
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.stop()
			return nil, err
		}
		s.ss = append(s.ss, sim)
		s.wg.Add(1)
		go func() { defer s.wg.Done(); sim.Run(ctx, l) }()
	}
	if err := waitUntil(ctx, 30*time.Second, func() bool {
		for _, sim := range s.ss {
			if !sim.Connected() {
				return false
			}
		}
		return true
	}); err != nil {
		s.stop()
		return nil, errors.New("pttsim did not connect to the broker")
	}
	// The subscriptions follow the connection by a round trip.
	time.Sleep(500 * time.Millisecond)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if behind := int64(delivered()) - int64(s.stored()); behind > s.maxBehind.Load() {
				s.maxBehind.Store(behind)
			}
		}
	}()
	return s, nil
}

// stored is the points the simulators stored (each once: they
// de-duplicate by seq, and share by message).
func (s *sims) stored() uint64 {
	var n uint64
	for _, sim := range s.ss {
		n += uint64(sim.Stats().TrackPoints)
	}
	return n
}

func (s *sims) shares() []uint64 {
	var out []uint64
	for _, sim := range s.ss {
		out = append(out, uint64(sim.Stats().TrackPoints))
	}
	return out
}

func (s *sims) stop() {
	s.cancel()
	s.wg.Wait()
}
