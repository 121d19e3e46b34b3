package track

import (
	"math"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/wire"
)

// An emergency's high track rate: for a while the handset reports at a
// short period whatever the member's settings — also with location
// sharing off, since the user asked for help — and without min_distance,
// since a user lying still is exactly who must be found.

type boost struct {
	period time.Duration
	until  time.Time
}

// Boost reports every period until until (a zero until or period ends a
// boost now); the member's own period applies where it is shorter. It
// takes effect at once: the next fix is a point.
func (r *Reporter) Boost(period time.Duration, until time.Time) {
	r.init()
	r.boost <- boost{period: period, until: until}
}

// LastFix is the last valid fix with a position and when it came; ok is
// false when there has been none since start.
func (r *Reporter) LastFix() (f gps.Fix, at time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats.LastFix, r.stats.LastFixAt, r.stats.HasFix
}

func (r *Reporter) noteFix(f gps.Fix) {
	if !f.Valid || !f.Is(gps.HasPosition) {
		return
	}
	r.mu.Lock()
	r.stats.LastFix, r.stats.LastFixAt, r.stats.HasFix = f, time.Now(), true
	r.mu.Unlock()
}

func (r *Reporter) setBoost(d *decider, b boost, now time.Time) {
	was := d.boost.period > 0
	d.setBoost(now, b)
	switch {
	case d.boosting(now):
		r.Logger.Info("emergency track rate", "period", d.period, "until", b.until.Format(time.RFC3339))
	case was:
		r.Logger.Info("emergency track rate ended; back to the member's", "loc_share", d.locShare, "period", d.period)
	}
	r.mu.Lock()
	r.stats.Period, r.stats.BoostUntil = d.period, time.Time{}
	if d.boosting(now) {
		r.stats.BoostUntil = d.boost.until
	}
	r.mu.Unlock()
}

func (d *decider) boosting(now time.Time) bool {
	return d.boost.period > 0 && now.Before(d.boost.until)
}

func (d *decider) setBoost(now time.Time, b boost) {
	if b.period <= 0 || !now.Before(b.until) {
		b = boost{}
	}
	d.boost = b
	d.follow(now)
	if d.boosting(now) {
		d.nextDue = now // where the user is, now
	}
}

// boostOver reports a boost whose time has passed and that is still in
// force.
func (d *decider) boostOver(now time.Time) bool {
	return d.boost.period > 0 && !now.Before(d.boost.until)
}

// Position is where the handset is, for an emergency alert: the last
// valid fix and how old it was at now; nil when there has been none since
// start.
func (r *Reporter) Position(now time.Time) *wire.EmergencyFix {
	f, at, ok := r.LastFix()
	if !ok {
		return nil
	}
	age := int64(max(0, now.Sub(at)) / time.Second)
	p := PointOf(&f, now, wire.TriggerHeartbeat, age)
	known := func(v float64) *float64 {
		if math.IsNaN(v) {
			return nil
		}
		return &v
	}
	return &wire.EmergencyFix{Latitude: p.Latitude, Longitude: p.Longitude, Speed: known(p.Speed), Altitude: known(p.Altitude),
		Bearing: known(p.Bearing), Sats: p.Sats, Mode: p.Mode, Created: p.Created, Age: age}
}
