package agent

import (
	"context"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/radio"
)

// pollAwake: traffic this recent means the radio is still in its high
// state (LTE's tail is about 10 s), so a fetch now costs no wake-up.
const pollAwake = 8 * time.Second

// radioClient is the platform client as the sync uses it: a fetch waits,
// while the broker connection is up, until the radio is awake for other
// traffic — a track message, the keep-alive, an event — at most maxWait
// (mqtt.keepalive: something wakes it by then), and the connection is
// closed as soon as the fetch is done, in the same wake-up. A fetch for an
// event or a reconnect finds the radio awake (the event or the connection
// just came) and goes at once; only the timer's polls wait. With the broker
// down nothing is waited for: the poll is then the only way news comes.
type radioClient struct {
	platform.Client
	radio     *radio.Radio
	linkUp    func() bool
	maxWait   time.Duration
	closeIdle func()
}

func (c radioClient) Fetch(ctx context.Context, prev *platform.Model) (*platform.Model, error) {
	if c.linkUp() && !c.radio.Awake(pollAwake) {
		t := time.NewTimer(c.maxWait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-c.radio.Woke():
		case <-t.C:
		}
		t.Stop()
	}
	defer c.closeIdle()
	return c.Client.Fetch(ctx, prev)
}
