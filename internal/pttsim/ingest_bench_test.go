package pttsim

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// The ingest's cost per point, as a fleet sends them: one point per
// message, the devices in turn. Its reciprocal against a fleet's rate
// (10 000 handsets at a point every 10 s = 1000 points/s) is the
// simulator's headroom; b.ReportMetric gives both.
//
//	go test -run '^$' -bench TrackIngest -benchtime 200000x ./internal/pttsim/
func BenchmarkTrackIngest(b *testing.B) {
	for _, devices := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			s, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FileDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			topics := make([]string, devices)
			for d := range topics {
				topics[d] = fmt.Sprintf("ptt/dev/fleet-%d/track", d+1)
			}
			p := wire.Point{Created: time.Now().Unix(), Latitude: 22.668835, Longitude: 115.070211, Speed: 42.3, Altitude: 23.2,
				Bearing: 231, HDOP: 1.1, Sats: 9, Mode: 3}
			batches := make([][]byte, 64)
			b.ResetTimer()
			for i := range b.N {
				p.Seq = uint64(i/devices + 1)
				batches[i%64] = wire.AppendTrackBatch(batches[i%64][:0], []wire.Point{p})
				s.onTrack(topics[i%devices], batches[i%64])
			}
			b.StopTimer()
			if st := s.Stats(); st.TrackPoints != b.N || st.TrackMissing != 0 {
				b.Fatalf("stored %d of %d, missing %d", st.TrackPoints, b.N, st.TrackMissing)
			}
			perPoint := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(time.Second)/float64(perPoint), "points/s")
			b.ReportMetric(float64(time.Second)/float64(perPoint)/1000, "x-fleet-10k@10s")
		})
	}
}

// The state file is the whole world as JSON, written every second while
// tracks arrive: its cost grows with the points kept. A fleet of 10 000
// at a point every 10 s adds 3.6 million points an hour.
func BenchmarkStateSave(b *testing.B) {
	for _, points := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("points=%d", points), func(b *testing.B) {
			s, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FileDir: b.TempDir(),
				StateFile: filepath.Join(b.TempDir(), "state.json")})
			if err != nil {
				b.Fatal(err)
			}
			p := wire.Point{Created: time.Now().Unix(), Latitude: 22.668835, Longitude: 115.070211, Speed: 42.3, Mode: 3, Sats: 9}
			const devices = 10_000
			for i := range points {
				p.Seq = uint64(i/devices + 1)
				s.onTrack(fmt.Sprintf("ptt/dev/fleet-%d/track", i%devices+1), wire.AppendTrackBatch(nil, []wire.Point{p}))
			}
			b.ResetTimer()
			for range b.N {
				s.mu.Lock()
				s.dirty = true
				s.mu.Unlock()
				s.save()
			}
		})
	}
}
