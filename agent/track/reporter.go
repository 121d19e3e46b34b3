// Package track decides when a GNSS fix becomes a track point: at the
// member's period while location sharing is on, optionally at corners
// (SmartBeaconing corner pegging), never while stationary closer than a
// minimum distance, and as a heartbeat when nothing was sent for a while.
// The decision is a pure function of the inputs and the time (decider), so
// it is table-tested; Reporter.Run only feeds it.
package track

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/pttagent/pttagent/gps"
	"github.com/pttagent/pttagent/uplink/queue"
	"github.com/pttagent/pttagent/wire"
)

// Settings are the member's settings that govern tracks. Until platform
// sync exists they come from the config file; the platform changes them at
// runtime through Reporter.Apply.
type Settings struct {
	LocShare bool
	Track    int // the platform's code: 0 off, 1 high, 2 medium, 3 low, 4 reserved, else seconds
}

// ErrReserved is returned for the track value the platform reserves.
var ErrReserved = errors.New("track value 4 is reserved")

// Options are the reporter's own settings (the config file's tracks
// section; its defaults and documentation are in agent/config).
type Options struct {
	Periods Periods
	// MinDistance (metres, 0 = off): a periodic point is skipped when the
	// handset moved less than this since the last point sent.
	MinDistance float64
	// Heartbeat (0 = off): with no point queued for this long, the last
	// valid fix is queued again, marked as a heartbeat with its age.
	Heartbeat time.Duration
	Corner    CornerPeg
}

// Periods are the reporting periods of the platform's track values 1, 2
// and 3.
type Periods struct {
	High, Medium, Low time.Duration
}

// CornerPeg is APRS SmartBeaconing's corner pegging: a point as soon as
// the heading has turned by more than MinTurn + TurnSlope/speed(km/h)
// degrees, at MinSpeed km/h or more, at most every MinInterval.
type CornerPeg struct {
	Enabled                      bool
	MinSpeed, MinTurn, TurnSlope float64
	MinInterval                  time.Duration
}

// Period maps the platform's track value to a reporting period; 0 is off.
func Period(track int, p Periods) (time.Duration, error) {
	switch {
	case track == 0:
		return 0, nil
	case track == 1:
		return p.High, nil
	case track == 2:
		return p.Medium, nil
	case track == 3:
		return p.Low, nil
	case track == 4:
		return 0, ErrReserved
	case track < 0:
		return 0, fmt.Errorf("track value %d is negative", track)
	}
	return time.Duration(track) * time.Second, nil
}

// Appender stores a point durably and numbers it (queue.Queue).
type Appender interface {
	Append(*wire.Point) (uint64, error)
}

// Reporter turns fixes into queued points.
type Reporter struct {
	Queue   Appender
	Options Options
	Logger  *slog.Logger

	apply chan Settings
	boost chan boost
	once  sync.Once

	mu    sync.Mutex
	stats Stats
}

// Stats for status.
type Stats struct {
	LocShare   bool
	Track      int
	Period     time.Duration
	Points     uint64 // points queued
	Suppressed uint64 // periodic points skipped by min_distance
	Failed     uint64 // points that could not be stored
	LastPoint  time.Time
	LastSeq    uint64
	LastError  string
	// BoostUntil is when an emergency's high rate ends (Boost); zero
	// when none is in force. Period is the rate in force.
	BoostUntil time.Time
	// LastFix is the last valid fix with a position (HasFix false: none
	// since start), LastFixAt when it came.
	LastFix   gps.Fix
	LastFixAt time.Time
	HasFix    bool
}

func (r *Reporter) init() {
	r.once.Do(func() {
		r.apply = make(chan Settings, 8)
		r.boost = make(chan boost, 8)
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
	})
}

// Apply changes the settings; they take effect at once (the next fix).
func (r *Reporter) Apply(s Settings) {
	r.init()
	r.apply <- s
}

// Stats returns a snapshot.
func (r *Reporter) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// Run consumes fixes until ctx is cancelled.
func (r *Reporter) Run(ctx context.Context, initial Settings, fixes <-chan gps.Fix) error {
	r.init()
	d := newDecider(r.Options)
	r.set(d, initial, time.Now())
	// The heartbeat is the only thing that happens without a fix: a timer
	// for its due time, not a ticker, so that an idle handset's CPU sleeps
	// (a 1 s ticker was one of its wake-ups every second).
	heartbeat := time.NewTimer(time.Hour)
	defer heartbeat.Stop()
	// An emergency's faster rate ends at its time, also without a fix.
	boostEnd := time.NewTimer(time.Hour)
	defer boostEnd.Stop()
	diskFull := false
	for {
		var (
			p      wire.Point
			ok     bool
			tick   <-chan time.Time
			ending <-chan time.Time
		)
		if due, on := d.heartbeatDue(); on {
			heartbeat.Reset(time.Until(due))
			tick = heartbeat.C
		} else {
			heartbeat.Stop()
		}
		if d.boost.period > 0 {
			boostEnd.Reset(time.Until(d.boost.until))
			ending = boostEnd.C
		} else {
			boostEnd.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-r.apply:
			r.set(d, s, time.Now())
			continue
		case b := <-r.boost:
			r.setBoost(d, b, time.Now())
			continue
		case f := <-fixes:
			r.noteFix(f)
			p, ok = d.onFix(time.Now(), f)
		case now := <-ending:
			if d.boostOver(now) {
				r.setBoost(d, boost{}, now)
			}
			continue
		case now := <-tick:
			p, ok = d.onTick(now)
		}
		if !ok {
			r.mu.Lock()
			r.stats.Suppressed = d.suppressed
			r.mu.Unlock()
			continue
		}
		seq, err := r.Queue.Append(&p)
		r.mu.Lock()
		r.stats.Suppressed = d.suppressed
		if err != nil {
			r.stats.Failed++
			r.stats.LastError = err.Error()
		} else {
			r.stats.Points++
			r.stats.LastError = ""
			r.stats.LastPoint = time.Now()
			r.stats.LastSeq = seq
		}
		r.mu.Unlock()
		switch {
		case err != nil && !diskFull:
			diskFull = errors.Is(err, queue.ErrDiskFull)
			r.Logger.Error("track point lost: cannot store it", "err", err, "hint", "free space in state_dir")
		case err == nil && diskFull:
			diskFull = false
			r.Logger.Info("track points are stored again")
		}
	}
}

func (r *Reporter) set(d *decider, s Settings, now time.Time) {
	period, err := Period(s.Track, r.Options.Periods)
	if err != nil {
		// Keep reporting as before rather than go silent on a value we do
		// not understand; say so.
		r.Logger.Warn("ignoring track setting", "track", s.Track, "err", err, "period", d.period)
		period = d.period
		s.Track = r.Stats().Track
	}
	if d.baseShare != s.LocShare || d.basePeriod != period {
		r.Logger.Info("track settings", "loc_share", s.LocShare, "track", s.Track, "period", period)
	}
	d.setSettings(now, s.LocShare, period)
	r.mu.Lock()
	r.stats.LocShare, r.stats.Track, r.stats.Period = s.LocShare, s.Track, d.period
	r.mu.Unlock()
}

// decider holds the trigger state. All methods take the current time.
type decider struct {
	opts Options
	// The settings in force: the member's (base*), or an emergency's
	// boost while it lasts.
	locShare   bool
	period     time.Duration // 0: off
	baseShare  bool
	basePeriod time.Duration
	boost      boost

	nextDue  time.Time     // the periodic point is due at this time (less the slack)
	fixEvery time.Duration // the receiver's fix interval, 0 until known

	// the last point queued
	sent       bool
	sentAt     time.Time
	sentLat    float64
	sentLon    float64
	sentCourse float64
	hasCourse  bool

	// the last valid fix
	fix   gps.Fix
	fixAt time.Time
	hasFx bool

	suppressed uint64
}

func newDecider(o Options) *decider { return &decider{opts: o} }

func (d *decider) active() bool { return d.locShare && d.period > 0 }

func (d *decider) setSettings(now time.Time, locShare bool, period time.Duration) {
	d.baseShare, d.basePeriod = locShare, period
	d.follow(now)
}

// follow puts the settings in force: the member's, or while an
// emergency's boost lasts, its period (or the member's, if shorter) with
// sharing on.
func (d *decider) follow(now time.Time) {
	locShare, period := d.baseShare, d.basePeriod
	if d.boosting(now) {
		locShare = true
		if !d.baseShare || period == 0 || d.boost.period < period {
			period = d.boost.period
		}
	}
	wasActive := d.active()
	d.locShare, d.period = locShare, period
	switch {
	case !d.active():
	case !wasActive:
		d.nextDue = now // sharing just started: report at the next fix
	case now.Add(period).Before(d.nextDue):
		d.nextDue = now.Add(period) // a shorter period takes effect at once
	}
}

func (d *decider) onFix(now time.Time, f gps.Fix) (wire.Point, bool) {
	if !f.Valid || !f.Is(gps.HasPosition) {
		return wire.Point{}, false
	}
	d.noteFix(now)
	d.fix, d.fixAt, d.hasFx = f, now, true
	if !d.active() {
		return wire.Point{}, false
	}
	if d.corner(now, &f) {
		return d.emit(now, &f, wire.TriggerCorner, 0), true
	}
	if !d.due(now) {
		return wire.Point{}, false
	}
	if d.opts.MinDistance > 0 && !d.boosting(now) && d.sent && Distance(d.sentLat, d.sentLon, f.Lat, f.Lon) < d.opts.MinDistance {
		d.suppressed++
		d.advance(now) // look again one period later
		return wire.Point{}, false
	}
	return d.emit(now, &f, wire.TriggerPeriod, 0), true
}

// corner reports whether the heading has turned enough since the last point:
// SmartBeaconing's threshold min_turn + turn_slope/speed grows at low speed,
// where headings are noisy.
func (d *decider) corner(now time.Time, f *gps.Fix) bool {
	c := d.opts.Corner
	if !c.Enabled || !d.sent || !d.hasCourse || !f.Is(gps.HasCourse|gps.HasSpeed) {
		return false
	}
	kmh := f.Speed * 3.6
	if kmh < c.MinSpeed || kmh <= 0 || now.Sub(d.sentAt) < c.MinInterval {
		return false
	}
	turn := math.Abs(math.Mod(f.Course-d.sentCourse+540, 360) - 180)
	return turn > c.MinTurn+c.TurnSlope/kmh
}

func (d *decider) onTick(now time.Time) (wire.Point, bool) {
	hb := d.opts.Heartbeat
	if hb <= 0 || !d.active() || !d.hasFx || (d.sent && now.Sub(d.sentAt) < hb) {
		return wire.Point{}, false
	}
	if !d.sent && now.Sub(d.fixAt) < hb {
		return wire.Point{}, false
	}
	f := d.fix
	return d.emit(now, &f, wire.TriggerHeartbeat, int64(now.Sub(d.fixAt)/time.Second)), true
}

// heartbeatDue is when onTick will next have a heartbeat to give, if ever
// without another input.
func (d *decider) heartbeatDue() (time.Time, bool) {
	hb := d.opts.Heartbeat
	switch {
	case hb <= 0 || !d.active() || !d.hasFx:
		return time.Time{}, false
	case d.sent:
		return d.sentAt.Add(hb), true
	}
	return d.fixAt.Add(hb), true
}

func (d *decider) emit(now time.Time, f *gps.Fix, trig wire.Trigger, fixAge int64) wire.Point {
	d.sent, d.sentAt, d.sentLat, d.sentLon = true, now, f.Lat, f.Lon
	if f.Is(gps.HasCourse) {
		d.sentCourse, d.hasCourse = f.Course, true
	}
	if trig != wire.TriggerHeartbeat {
		d.advance(now)
	}
	return PointOf(f, now, trig, fixAge)
}

// slack is how early before the due time a fix may take the periodic
// slot: half the receiver's fix interval, so that the slot goes to the fix
// nearest the due time rather than to the first one after it. Without it a
// 1 s period with a 1 Hz receiver gives 1–2 s spacing: a fix 20 ms early
// is skipped and the next one is a second late.
func (d *decider) slack() time.Duration { return min(d.period, d.fixEvery) / 2 }

// due: at the due time, or nearer to it than the next fix will be (a tie
// goes to the later fix).
func (d *decider) due(now time.Time) bool {
	return !now.Before(d.nextDue) || now.After(d.nextDue.Add(-d.slack()))
}

// maxFixInterval: a longer time between two fixes is an outage, not the
// receiver's rate.
const maxFixInterval = 2 * time.Second

// noteFix follows the receiver's fix interval (a moving average, so that
// one late fix does not halve the slack).
func (d *decider) noteFix(now time.Time) {
	if !d.hasFx {
		return
	}
	gap := now.Sub(d.fixAt)
	switch {
	case gap <= 0 || gap > maxFixInterval:
	case d.fixEvery == 0:
		d.fixEvery = gap
	default:
		d.fixEvery += (gap - d.fixEvery) / 4
	}
}

// advance moves the due time one period on from the due time, not from
// now, so that neither the receiver's jitter nor the time a fix takes to
// arrive pushes the schedule back. After a gap (no fixes, min_distance)
// the slots missed are skipped, not caught up in a burst.
func (d *decider) advance(now time.Time) {
	d.nextDue = d.nextDue.Add(d.period)
	if d.due(now) {
		behind := now.Sub(d.nextDue.Add(-d.slack()))
		d.nextDue = d.nextDue.Add((behind/d.period + 1) * d.period)
	}
}

// PointOf converts a fix. The position's own time is the point's time when
// the receiver gave a date; the handset clock otherwise.
func PointOf(f *gps.Fix, now time.Time, trig wire.Trigger, fixAge int64) wire.Point {
	nan := math.NaN()
	p := wire.Point{Latitude: f.Lat, Longitude: f.Lon, Speed: nan, Altitude: nan, Bearing: nan, HDOP: nan,
		Mode: int(f.Mode), PositionType: wire.PositionGPS, Trigger: trig, FixAge: fixAge}
	if f.Is(gps.HasTime | gps.HasDate) {
		p.Created = f.Time.Unix()
	} else {
		p.Created = now.Add(-time.Duration(fixAge) * time.Second).Unix()
	}
	if f.Is(gps.HasSpeed) {
		p.Speed = f.Speed * 3.6
	}
	if f.Is(gps.HasAltitude) {
		p.Altitude = f.Alt
	}
	if f.Is(gps.HasCourse) {
		p.Bearing = f.Course
	}
	if f.Is(gps.HasHDOP) {
		p.HDOP = f.HDOP
	}
	if f.Is(gps.HasSats) {
		p.Sats = f.Sats
	}
	if f.Is(gps.HasAccuracy) {
		p.Accuracy = f.Accuracy
	}
	if p.Mode < int(gps.Mode2D) {
		p.Mode = int(gps.Mode2D) // valid but the cycle did not say: at least 2D
	}
	return p
}

// Distance is the great-circle distance in metres (haversine; plenty for
// the tens of metres min_distance deals in).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371008.8
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(min(1, a)))
}
