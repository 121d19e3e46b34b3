package agent

import (
	"context"
	"testing"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/radio"
	"github.com/pttagent/pttagent/wire"
)

// fetchClock is a platform client that records when Fetch was called.
type fetchClock struct{ at chan time.Time }

func (f fetchClock) Fetch(context.Context, *platform.Model) (*platform.Model, error) {
	f.at <- time.Now()
	return &platform.Model{}, nil
}

func (fetchClock) Apply(m *platform.Model, _ wire.Event) (*platform.Model, bool, error) {
	return m, false, nil
}

// A poll waits for the radio's next wake-up while the broker link is up;
// with the radio awake, or the link down, it goes at once; the connection
// is closed after every fetch.
func TestPollRidesOnAWakeUp(t *testing.T) {
	rad := &radio.Radio{}
	up := true
	closed := 0
	inner := fetchClock{at: make(chan time.Time, 1)}
	c := radioClient{Client: inner, radio: rad, maxWait: time.Minute, linkUp: func() bool { return up },
		closeIdle: func() { closed++ }}

	done := make(chan struct{})
	start := time.Now()
	go func() { c.Fetch(context.Background(), nil); close(done) }()
	select {
	case <-inner.at:
		t.Fatal("a poll with the radio idle went at once: it woke the radio itself")
	case <-time.After(300 * time.Millisecond):
	}
	woke := time.Now()
	rad.Used() // a track message goes out
	if at := <-inner.at; at.Before(woke) {
		t.Fatalf("fetched %v after start, before the wake-up", at.Sub(start))
	}
	<-done
	if closed != 1 {
		t.Errorf("connection closed %d times after a fetch, want 1", closed)
	}

	// Awake (the traffic just now): at once.
	c.Fetch(context.Background(), nil)
	<-inner.at

	// The broker down: the poll is the only news; at once.
	up = false
	rad2 := &radio.Radio{}
	c.radio = rad2
	c.Fetch(context.Background(), nil)
	<-inner.at

	// Up and idle, and nothing wakes the radio: at most maxWait, and
	// stopping ends the wait.
	up = true
	waitIsBounded(t, &c, inner, &c.maxWait, "maxWait")
}

// While voice flows, a fetch waits for it to stop — its kilobytes would
// queue ahead of the voice on a slow link — at most voiceMax; with the
// broker down it goes at once.
func TestFetchWaitsForTheVoice(t *testing.T) {
	rad := &radio.Radio{}
	rad.Used() // awake: only the voice holds the fetch
	up := true
	inner := fetchClock{at: make(chan time.Time, 1)}
	c := radioClient{Client: inner, radio: rad, maxWait: time.Minute, voiceMax: time.Minute,
		linkUp: func() bool { return up }, closeIdle: func() {}}

	rad.SetVoice(true)
	done := make(chan error, 1)
	go func() { _, err := c.Fetch(context.Background(), nil); done <- err }()
	select {
	case <-inner.at:
		t.Fatal("fetched while voice flows")
	case <-time.After(300 * time.Millisecond):
	}
	stopped := time.Now()
	rad.SetVoice(false)
	if at := <-inner.at; at.Before(stopped) {
		t.Fatal("fetched before the voice stopped")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Voice that goes on: at most voiceMax, and stopping ends the wait.
	rad.SetVoice(true)
	rad.Used()
	waitIsBounded(t, &c, inner, &c.voiceMax, "voiceMax")

	// The broker down: the poll is the only news; at once.
	up = false
	c.Fetch(context.Background(), nil)
	<-inner.at
}

// waitIsBounded checks a Fetch that has to wait: it goes after *bound,
// and a cancel ends the wait without a fetch.
func waitIsBounded(t *testing.T, c *radioClient, inner fetchClock, bound *time.Duration, name string) {
	t.Helper()
	*bound = 200 * time.Millisecond
	began := time.Now()
	c.Fetch(context.Background(), nil)
	if waited := time.Since(began); waited < *bound {
		t.Errorf("waited %v, want %s (%v)", waited, name, *bound)
	}
	<-inner.at

	ctx, cancel := context.WithCancel(context.Background())
	*bound = time.Hour
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := c.Fetch(ctx, nil); err == nil {
		t.Errorf("a cancelled wait (%s) fetched", name)
	}
}
