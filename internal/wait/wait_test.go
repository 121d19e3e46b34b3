package wait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
)

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(50 * time.Millisecond)
		n.Store(1)
	}()
	start := time.Now()
	wait.For(t, 5*time.Second, "the flag", func() bool { return n.Load() == 1 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %v", d)
	}
}

type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = format
	panic(r)
}

func TestForFailsSayingWhat(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() { recover() }()
		wait.For(r, 30*time.Millisecond, "nothing", func() bool { return false })
	}()
	if r.failed == "" {
		t.Fatal("For did not fail on a condition that never held")
	}
}
