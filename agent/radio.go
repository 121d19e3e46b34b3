package agent

import (
	"context"
	"time"

	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/radio"
)

// voiceWait bounds how long a fetch waits for voice to stop: a long
// exchange of bursts must not keep the handset's settings stale.
const voiceWait = 30 * time.Second

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
//
// Any fetch waits while voice flows, up to voiceWait: its few kilobytes
// would queue ahead of the burst on a slow link (at a cell edge's 64
// kbit/s, by half a second), and what is urgent comes over MQTT anyway
// (events, floor). The radio stays awake for seconds after the burst, so
// the fetch still rides on its wake-up.
type radioClient struct {
	platform.Client
	radio     *radio.Radio
	linkUp    func() bool
	maxWait   time.Duration
	closeIdle func()
	// voiceMax bounds the wait for voice to stop (voiceWait).
	voiceMax time.Duration
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
	if err := c.afterVoice(ctx); err != nil {
		return nil, err
	}
	defer c.closeIdle()
	return c.Client.Fetch(ctx, prev)
}

// afterVoice waits, with the broker connection up, until no voice flows
// (or voiceMax).
func (c radioClient) afterVoice(ctx context.Context) error {
	done := c.radio.VoiceDone()
	if done == nil || !c.linkUp() {
		return nil
	}
	t := time.NewTimer(c.voiceMax)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
	case <-t.C:
	}
	return nil
}
