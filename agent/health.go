package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/pttagent/pttagent/agent/health"
	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/platform"
)

// The conditions the agent reports on behalf of parts that know nothing
// of health: each follows its part's own changes (the broker's state, the
// fixes as they pass) rather than polling it.

// followUplink reports the broker connection: down from the start until
// the first connect, then as the MQTT client's state changes.
func (a *Agent) followUplink(ctx context.Context) error {
	for {
		up, changed := a.p.MQTT.State()
		if up {
			a.p.Health.SetHealthy(health.UplinkDown)
		} else {
			detail := a.p.MQTT.Stats().LastError
			if detail == "" {
				detail = "connecting"
			}
			a.p.Health.SetUnhealthy(health.UplinkDown, detail)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// followFixes passes the receiver's fixes on to the track reporter and
// reports whether there is a fix: none from the start until the first
// valid one, and again when no valid fix came for gps.FixMaxAge — the
// same rule as gps.Stats.HasFix. The queue's health is looked at on the
// way: points are made of fixes.
func (a *Agent) followFixes(ctx context.Context, in <-chan gps.Fix, out chan<- gps.Fix) error {
	a.p.Health.SetUnhealthy(health.GPSNoFix, "no fix yet")
	stale := time.NewTimer(time.Hour)
	stale.Stop()
	defer stale.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stale.C:
			a.p.Health.SetUnhealthy(health.GPSNoFix, fmt.Sprintf("no valid fix for %s", gps.FixMaxAge))
		case f := <-in:
			if f.Valid {
				a.p.Health.SetHealthy(health.GPSNoFix)
				stale.Reset(gps.FixMaxAge)
			}
			select {
			case out <- f:
			case <-ctx.Done():
				return ctx.Err()
			}
			a.checkQueue(a.trackStatus())
		}
	}
}

// checkQueue reports the queue's backlog and write failures.
func (a *Agent) checkQueue(t TrackStatus) {
	if t.Queued > health.QueueBacklog {
		a.p.Health.SetUnhealthy(health.QueueBehind, fmt.Sprintf("%d points waiting", t.Queued))
	} else {
		a.p.Health.SetHealthy(health.QueueBehind)
	}
	if t.LastError != "" {
		a.p.Health.SetUnhealthy(health.QueueWriteFailed, t.LastError)
	} else {
		a.p.Health.SetHealthy(health.QueueWriteFailed)
	}
}

// reportingClient is the platform client as the sync uses it, reporting
// each fetch's outcome: a failure makes platform-sync-failing hold (since
// the first failure in a row), a good fetch ends it.
type reportingClient struct {
	platform.Client
	health *health.Tracker
}

func (c reportingClient) Fetch(ctx context.Context, prev *platform.Model) (*platform.Model, error) {
	m, err := c.Client.Fetch(ctx, prev)
	switch {
	case ctx.Err() != nil: // stopping: says nothing about the platform
	case platform.IsGone(err) != nil:
		// The platform answered: this member is gone (Deprovisioned says so).
		c.health.SetHealthy(health.PlatformSyncFailing)
	case err != nil:
		c.health.SetUnhealthy(health.PlatformSyncFailing, err.Error())
	case m == nil:
		c.health.SetUnhealthy(health.PlatformSyncFailing, "platform returned no model")
	default:
		c.health.Set(health.PlatformSyncFailing, m.Check())
	}
	return m, err
}
