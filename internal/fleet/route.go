package fleet

import (
	"math"
	mrand "math/rand/v2"
	"time"

	"github.com/pttagent/pttagent/wire"
)

// route is a generated drive: a start within ~20 km of a city centre, a
// speed that changes now and then (parked, town, road), a heading that
// wanders and sometimes turns a corner.
type route struct {
	rng      *mrand.Rand
	lat, lon float64
	speed    float64 // km/h
	heading  float64 // degrees
}

// The seeds' sample tracks are near 22.67 N, 115.07 E.
const centreLat, centreLon = 22.67, 115.07

func newRoute(seed uint64) route {
	r := route{rng: mrand.New(mrand.NewPCG(seed, 0x7074746c))}
	r.lat = centreLat + (r.rng.Float64()-0.5)*0.36
	r.lon = centreLon + (r.rng.Float64()-0.5)*0.36
	r.heading = r.rng.Float64() * 360
	r.speed = r.pickSpeed()
	return r
}

func (r *route) pickSpeed() float64 {
	switch r.rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return 5 + r.rng.Float64()*10
	case 2:
		return 20 + r.rng.Float64()*30
	default:
		return 50 + r.rng.Float64()*50
	}
}

// next moves on by one period and returns the point there.
func (r *route) next(period time.Duration) wire.Point {
	if r.rng.IntN(20) == 0 {
		r.speed = r.pickSpeed()
	}
	if r.rng.IntN(10) == 0 {
		r.heading += 90 * float64(1-2*r.rng.IntN(2)) // a corner
	} else {
		r.heading += r.rng.NormFloat64() * 5
	}
	r.heading = math.Mod(r.heading+360, 360)
	km := r.speed * period.Hours()
	rad := r.heading * math.Pi / 180
	r.lat += km / 111.32 * math.Cos(rad)
	r.lon += km / (111.32 * math.Cos(r.lat*math.Pi/180)) * math.Sin(rad)
	return wire.Point{Created: time.Now().Unix(), Latitude: round6(r.lat), Longitude: round6(r.lon),
		Speed: math.Round(r.speed*10) / 10, Altitude: 40 + math.Round(r.rng.Float64()*100)/10, Bearing: math.Round(r.heading),
		HDOP: 1.1, Sats: 9, Mode: 3}
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
