// Package wait is the tests' one way to wait for something that happens on
// another goroutine or in another process: poll a condition until it holds
// or a deadline passes, and fail the test saying what never happened.
package wait

import (
	"testing"
	"time"
)

// Poll is how often For checks its condition: often enough that a test
// does not wait noticeably longer than the event, rarely enough that the
// check costs nothing beside the code under test.
const Poll = 10 * time.Millisecond

// For polls cond until it returns true, or fails t after d with "timed out
// after d waiting for what".
func For(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(Poll)
	}
}
