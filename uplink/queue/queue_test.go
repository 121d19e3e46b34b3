package queue

import (
	"errors"

	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pttagent/pttagent/wire"
)

func pt(lat float64) *wire.Point {
	return &wire.Point{Created: 1731997061, Latitude: lat, Longitude: 115.07, Speed: 12.5,
		Altitude: math.NaN(), Bearing: 90, HDOP: 1.2, Sats: 8, Mode: 3, Trigger: wire.TriggerHeartbeat, FixAge: 42, Accuracy: 3.8}
}

func openQ(t *testing.T, path string, max int) *Queue {
	t.Helper()
	q, err := Open(path, max)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAppendPeekAckInOrder(t *testing.T) {
	q := openQ(t, filepath.Join(t.TempDir(), "q.db"), 1000)
	defer q.Close()
	for i := 1; i <= 10; i++ {
		seq, err := q.Append(pt(float64(i)))
		if err != nil || seq != uint64(i) {
			t.Fatalf("Append %d = %d, %v", i, seq, err)
		}
	}
	got, err := q.Peek(0, 4, 1<<20, nil)
	if err != nil || len(got) != 4 || got[0].Seq != 1 || got[3].Seq != 4 || got[2].Latitude != 3 {
		t.Fatalf("Peek = %+v, %v", got, err)
	}
	p := got[0]
	if !math.IsNaN(p.Altitude) || p.Speed != 12.5 || p.Sats != 8 || p.Trigger != wire.TriggerHeartbeat || p.FixAge != 42 || p.Accuracy != 3.8 || p.Created != 1731997061 {
		t.Errorf("round trip = %+v", p)
	}
	// A window of batches: the next batch starts after the one in flight.
	got, _ = q.Peek(4, 4, 1<<20, got)
	if got[0].Seq != 5 || got[3].Seq != 8 {
		t.Fatalf("second batch = %d..%d", got[0].Seq, got[3].Seq)
	}
	if err := q.Ack(1, 4); err != nil {
		t.Fatal(err)
	}
	if q.Len() != 6 {
		t.Errorf("Len = %d after ack", q.Len())
	}
	got, _ = q.Peek(0, 100, 1<<20, got)
	if len(got) != 6 || got[0].Seq != 5 {
		t.Errorf("after ack the oldest is %d (%d points)", got[0].Seq, len(got))
	}
	if s := q.Stats(); s.LastAcked != 4 || s.LastSeq != 10 {
		t.Errorf("stats %+v", s)
	}
}

func TestPeekRespectsByteBudget(t *testing.T) {
	q := openQ(t, filepath.Join(t.TempDir(), "q.db"), 1000)
	defer q.Close()
	for i := 0; i < 20; i++ {
		q.Append(pt(1))
	}
	got, _ := q.Peek(0, 100, 300, nil)
	payload := wire.AppendTrackBatch(nil, got)
	if len(got) == 0 || len(got) == 20 || len(payload) > 300 {
		t.Errorf("%d points, %d bytes for a 300 byte budget", len(got), len(payload))
	}
	// One point always goes, even above the budget, or the queue would stick.
	got, _ = q.Peek(0, 100, 10, got)
	if len(got) != 1 {
		t.Errorf("tiny budget gave %d points", len(got))
	}
}

func TestSequenceSurvivesRestartAndEmptyQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openQ(t, path, 1000)
	for i := 0; i < 3; i++ {
		q.Append(pt(1))
	}
	q.Ack(1, 3)
	q.Close()

	q = openQ(t, path, 1000)
	defer q.Close()
	if q.Len() != 0 {
		t.Fatalf("Len = %d", q.Len())
	}
	if seq, _ := q.Append(pt(1)); seq != 4 {
		t.Errorf("after restart seq = %d, want 4 (never reuse a number)", seq)
	}
}

func TestFullQueueDropsOldestAndCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openQ(t, path, 5)
	for i := 1; i <= 8; i++ {
		q.Append(pt(float64(i)))
	}
	got, _ := q.Peek(0, 100, 1<<20, nil)
	if len(got) != 5 || got[0].Seq != 4 || got[4].Seq != 8 {
		t.Fatalf("kept %d points from %d", len(got), got[0].Seq)
	}
	if s := q.Stats(); s.Dropped != 3 || s.Len != 5 {
		t.Errorf("stats %+v", s)
	}
	q.Close()
	q = openQ(t, path, 5)
	defer q.Close()
	if s := q.Stats(); s.Dropped != 3 || s.Len != 5 || s.LastSeq != 8 {
		t.Errorf("after reopen stats %+v", s)
	}
}

func TestSecondOpenerIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.db")
	q := openQ(t, path, 1000)
	defer q.Close()
	_, err := Open(path, 1000)
	if err == nil || !strings.Contains(err.Error(), "another pttagent") {
		t.Fatalf("second Open = %v", err)
	}
}

func TestNotifyOnAppend(t *testing.T) {
	q := openQ(t, filepath.Join(t.TempDir(), "q.db"), 1000)
	defer q.Close()
	q.Append(pt(1))
	select {
	case <-q.Notify():
	default:
		t.Fatal("no notification")
	}
}

// A full disk is reported as ErrDiskFull and the queue keeps working once
// space is back. Needs a small tmpfs, so root (CI runs as root).
func TestFullDiskIsReportedNotFatal(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	q := openQ(t, filepath.Join(dir, "q.db"), 1_000_000)
	ballast := filepath.Join(dir, "ballast")
	// Fill the rest of the file system.
	f, _ := os.Create(ballast)
	f.Write(make([]byte, 256<<10))
	f.Close()
	var err error
	for i := 0; i < 20000 && err == nil; i++ {
		_, err = q.Append(pt(1))
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("want ErrDiskFull, got %v", err)
	}
	if q.Stats().Failed == 0 {
		t.Error("failure not counted")
	}
	os.Remove(ballast)
	stored := q.Len()
	if _, err := q.Append(pt(2)); err != nil {
		t.Fatalf("after freeing space: %v", err)
	}
	if q.Len() != stored+1 {
		t.Errorf("Len %d, want %d", q.Len(), stored+1)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkAppendAck(b *testing.B) {
	q, err := Open(filepath.Join(b.TempDir(), "q.db"), 100_000)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	p := pt(1)
	for b.Loop() {
		seq, err := q.Append(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := q.Ack(seq, seq); err != nil {
			b.Fatal(err)
		}
	}
}
