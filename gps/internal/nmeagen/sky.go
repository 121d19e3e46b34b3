package main

import (
	"math"
	"math/rand/v2"
	"time"
)

// The vehicle and the sky: a script of legs driven at 1 Hz under a
// deterministic pseudo-random constellation, giving the receiver's state
// at each cycle. The writers in receivers.go turn it into sentences.

// A leg of a journey: hold for dur seconds while speeding up or slowing
// down towards speed (km/h) and turning at turn degrees per second.
type leg struct {
	dur   int
	speed float64
	turn  float64
	sky   skyState
}

type skyState uint8

const (
	open   skyState = iota // all satellites above 10°
	street                 // urban canyon: low satellites lost, weaker signals
	tunnel                 // underpass: nothing usable
	canopy                 // trees or a roof: only a few satellites, 2D
)

// driveScript is three minutes of a morning drive: a stop at a light, a
// right turn, an underpass, a left turn onto a faster road.
var driveScript = []leg{
	{dur: 12, speed: 0},
	{dur: 10, speed: 50},
	{dur: 25, speed: 50},
	{dur: 9, speed: 25, turn: 10},
	{dur: 15, speed: 45, sky: street},
	{dur: 4, speed: 45, sky: canopy},
	{dur: 5, speed: 45, sky: tunnel},
	{dur: 3, speed: 45, sky: canopy},
	{dur: 12, speed: 45},
	{dur: 8, speed: 0},
	{dur: 14, speed: 0},
	{dur: 9, speed: 20, turn: -10},
	{dur: 15, speed: 80},
	{dur: 30, speed: 90, turn: 0.5},
	{dur: 10, speed: 60, turn: -2},
}

// cityScript is two minutes of slow city traffic.
var cityScript = []leg{
	{dur: 8, speed: 0},
	{dur: 12, speed: 35},
	{dur: 20, speed: 40, sky: street},
	{dur: 6, speed: 15, turn: 15},
	{dur: 20, speed: 40},
	{dur: 10, speed: 0},
	{dur: 10, speed: 30, turn: -9},
	{dur: 15, speed: 50},
	{dur: 5, speed: 45, sky: canopy},
	{dur: 14, speed: 30},
}

// walkScript is two minutes of walking in and out of a building.
var walkScript = []leg{
	{dur: 10, speed: 0},
	{dur: 30, speed: 5, turn: 0.3},
	{dur: 10, speed: 4, sky: canopy},
	{dur: 8, speed: 3, sky: tunnel},
	{dur: 10, speed: 4, sky: canopy},
	{dur: 40, speed: 5, turn: -1},
	{dur: 12, speed: 0},
}

// midnightScript crosses midnight of New Year's Eve.
var midnightScript = []leg{
	{dur: 10, speed: 0},
	{dur: 20, speed: 30},
	{dur: 15, speed: 30, turn: 3},
	{dur: 15, speed: 0},
}

// fastScript is half a minute of a car leaving a car park, recorded by a
// 10 Hz receiver: away from a stop, a right-angle corner, a short urban
// canyon, faster again.
var fastScript = []leg{
	{dur: 4, speed: 0},
	{dur: 8, speed: 50},
	{dur: 6, speed: 30, turn: 15},
	{dur: 4, speed: 45, sky: street},
	{dur: 8, speed: 60},
}

// sat is a satellite in view.
type sat struct {
	sys   byte // 'P' GPS, 'L' GLONASS, 'A' Galileo, 'B' BeiDou
	prn   int  // in the system's own numbering (GLONASS 65..96 as NMEA has it)
	elev  int
	az    int
	snr   int // dB-Hz, 0 when not tracked
	used  bool
	phase float64
}

// epoch is the receiver's state at one cycle.
type epoch struct {
	t         time.Time
	timeKnown bool // the receiver knows UTC (before the first fix it may not)
	dateKnown bool
	lat, lon  float64
	alt, sep  float64
	speed     float64 // m/s
	course    float64
	mode      int // 1 none, 2 2D, 3 3D
	sats      []sat
	hdop      float64
	pdop      float64
	vdop      float64
	noise     float64 // the position noise's standard deviation per axis, metres
}

func (e *epoch) used(sys byte) []sat {
	var u []sat
	for _, s := range e.sats {
		if s.used && (sys == 0 || s.sys == sys) {
			u = append(u, s)
		}
	}
	return u
}

func (e *epoch) nused() int { return len(e.used(0)) }

// of is the satellites of one system.
func of(sats []sat, sys byte) []sat {
	var o []sat
	for _, s := range sats {
		if s.sys == sys {
			o = append(o, s)
		}
	}
	return o
}

// constellation returns the satellites in view over a place, with a
// deterministic pseudo-random sky.
func constellation(rng *rand.Rand) []sat {
	var sats []sat
	add := func(sys byte, prns []int) {
		for _, p := range prns {
			sats = append(sats, sat{sys: sys, prn: p, elev: 5 + rng.IntN(80), az: rng.IntN(360), phase: rng.Float64() * 6})
		}
	}
	add('P', []int{2, 5, 7, 9, 13, 15, 18, 20, 25, 29, 30})
	add('L', []int{65, 66, 72, 73, 80, 81, 88})
	add('A', []int{3, 5, 8, 13, 15, 27})
	add('B', []int{6, 9, 14, 16, 21, 26, 39})
	return sats
}

// simulate runs a script from a start time and place at 1 Hz.
func simulate(script []leg, start time.Time, lat, lon float64, seed uint64) []epoch {
	return simulateAt(script, start, lat, lon, seed, 1)
}

// simulateAt runs a script at hz cycles a second, as a fast receiver
// reports. At 1 Hz every step is exactly what the 1 Hz logs were made
// with (dt is 1, sqrt(dt) is 1), so they stay byte-identical.
func simulateAt(script []leg, start time.Time, lat, lon float64, seed uint64, hz int) []epoch {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	sky := constellation(rng)
	const earth = 6371008.8
	dt := 1 / float64(hz)
	speed, course := 0.0, 30.0+rng.Float64()*300
	alt := 500 + rng.Float64()*40
	var eps []epoch
	t := start
	for _, l := range script {
		target := l.speed / 3.6
		for i := 0; i < l.dur*hz; i++ {
			// Accelerate at most 2 m/s², as cars do.
			speed += math.Max(-2.5*dt, math.Min(2*dt, target-speed))
			course = math.Mod(course+l.turn*dt+360, 360)
			d := speed * dt
			lat += d * math.Cos(course*math.Pi/180) / earth * 180 / math.Pi
			lon += d * math.Sin(course*math.Pi/180) / (earth * math.Cos(lat*math.Pi/180)) * 180 / math.Pi
			// A random walk: its spread per second does not depend on the rate.
			alt += (rng.Float64() - 0.5) * 0.4 * math.Sqrt(dt)
			e := epoch{t: t, timeKnown: true, dateKnown: true, lat: lat, lon: lon, alt: alt, sep: 47.5, speed: speed, course: course}
			e.sats = track(sky, l.sky, t.Sub(start).Seconds(), rng)
			n := e.nused()
			switch {
			case n >= 4 && l.sky != canopy:
				e.mode = 3
			case n >= 3:
				e.mode = 2
			default:
				e.mode = 1
			}
			e.hdop = round(0.6+5.0/float64(max(n, 1)), 2)
			e.vdop = round(e.hdop*1.3, 2)
			e.pdop = round(math.Hypot(e.hdop, e.vdop), 2)
			// Position noise of a few decimetres, more in the street.
			noise := 0.3
			if l.sky != open {
				noise = 1.5
			}
			e.noise = noise
			e.lat += rng.NormFloat64() * noise / earth * 180 / math.Pi
			e.lon += rng.NormFloat64() * noise / earth * 180 / math.Pi
			eps = append(eps, e)
			t = t.Add(time.Second / time.Duration(hz))
		}
	}
	return eps
}

// track decides which satellites are tracked and used at second s.
func track(sky []sat, st skyState, s float64, rng *rand.Rand) []sat {
	out := make([]sat, len(sky))
	copy(out, sky)
	for i := range out {
		o := &out[i]
		snr := 22 + float64(o.elev)/3 + 3*math.Sin(s/20+o.phase) + rng.NormFloat64()
		switch st {
		case street:
			if o.elev < 35 {
				snr = 0
			} else {
				snr -= 6
			}
		case canopy:
			if o.elev < 55 {
				snr = 0
			} else {
				snr -= 10
			}
		case tunnel:
			snr = 0
		}
		if snr < 12 {
			snr = 0
		}
		o.snr = int(snr)
		o.used = o.snr >= 25 && o.elev >= 10
	}
	return out
}

// coldStart is a receiver switched on without almanac: nothing for a while,
// then time without a fix, then 2D, then 3D.
func coldStart(start time.Time, lat, lon float64, seed uint64) []epoch {
	rng := rand.New(rand.NewPCG(seed, 1))
	sky := constellation(rng)
	var eps []epoch
	for i := range 95 {
		t := start.Add(time.Duration(i) * time.Second)
		e := epoch{t: t, lat: lat + rng.NormFloat64()*2e-5, lon: lon + rng.NormFloat64()*2e-5, alt: 38 + rng.NormFloat64(), sep: 22.1, mode: 1}
		e.sats = track(sky, open, float64(i), rng)
		switch {
		case i < 25: // searching: no time, no satellites tracked
			for j := range e.sats {
				e.sats[j].snr, e.sats[j].used = 0, false
			}
		case i < 45: // tracking, time from the first navigation message, no fix
			e.timeKnown, e.dateKnown = true, i >= 32
			for j := range e.sats {
				e.sats[j].used = false
				if j%3 != 0 {
					e.sats[j].snr = 0
				}
			}
		case i < 55: // three satellites: 2D
			e.timeKnown, e.dateKnown = true, true
			n := 0
			for j := range e.sats {
				e.sats[j].used = e.sats[j].used && n < 3
				if e.sats[j].used {
					n++
				}
			}
			e.mode = 2
		default:
			e.timeKnown, e.dateKnown = true, true
			e.mode = 3
		}
		n := e.nused()
		e.hdop, e.pdop, e.vdop = 99.99, 99.99, 99.99
		if e.mode > 1 {
			e.hdop = round(0.6+8.0/float64(n), 2)
			e.vdop = round(e.hdop*1.4, 2)
			e.pdop = round(math.Hypot(e.hdop, e.vdop), 2)
		}
		eps = append(eps, e)
	}
	return eps
}
