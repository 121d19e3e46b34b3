package gpssim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Player writes an NMEA log into a writer (usually a Device) paced like the
// receiver that produced it: it waits between cycles as long as the
// sentences' UTC times say (divided by Speed). Lines are written as they
// are, garbage included, so a damaged log stays damaged; '#' comment lines
// are skipped.
type Player struct {
	// Speed divides the waits: 1 is real time, 10 ten times as fast. Zero
	// means 1.
	Speed float64
	// Loop starts the log again when it ends, until ctx is done.
	Loop bool
	// Retime rewrites the time and date of every sentence so that the log
	// happens now (in UTC): the first time in the log becomes the current
	// second, later ones follow at the log's pace, and looping keeps time
	// moving forward. Checksums are recomputed. Empty time fields (a
	// receiver without a fix) stay empty.
	Retime bool
	// Now and Sleep are the clock; time.Now and a timer when nil.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Play writes log to w. It returns nil when the log has been played (never,
// with Loop), ctx's error when ctx is done, or w's error.
func (p *Player) Play(ctx context.Context, w io.Writer, log []byte) error {
	now, sleep := p.Now, p.Sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	speed := p.Speed
	if speed <= 0 {
		speed = 1
	}
	var lastWall time.Time
	for pass := 0; ; pass++ {
		pl := passState{now: now, lastWall: lastWall}
		if pass > 0 {
			// One cycle's gap between the end of the log and its start.
			if err := sleep(ctx, time.Duration(float64(time.Second)/speed)); err != nil {
				return err
			}
		}
		for rest := log; len(rest) > 0; {
			if err := ctx.Err(); err != nil {
				return err
			}
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				i = len(rest) - 1
			}
			chunk := rest[:i+1]
			rest = rest[i+1:]
			if chunk[0] == '#' {
				continue
			}
			out, wait := pl.line(chunk, p.Retime)
			if wait > 0 {
				if err := sleep(ctx, time.Duration(float64(wait)/speed)); err != nil {
					return err
				}
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
		lastWall = pl.lastWall
		if !p.Loop {
			return nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// passState follows one pass through the log.
type passState struct {
	now      func() time.Time
	prevTOD  time.Duration
	havePrev bool
	seen     map[string]bool // timed types seen in this cycle, for time-less cycles

	// Retiming.
	started   bool
	wallStart time.Time
	tod0      time.Duration
	days      time.Duration // whole days the log has crossed since tod0
	lastWall  time.Time
}

// timeField is the index of the UTC time field of the sentence types that
// carry one.
var timeField = map[string]int{"RMC": 1, "GGA": 1, "GNS": 1, "GLL": 5, "ZDA": 1, "GBS": 1, "GST": 1}

// line returns the chunk to write, retimed if asked, and how long to wait
// before writing it (the start of a new cycle).
func (ps *passState) line(chunk []byte, retime bool) ([]byte, time.Duration) {
	body, end, ok := frame(chunk)
	if !ok {
		return chunk, 0
	}
	fields := bytes.Split(body, []byte{','})
	if len(fields[0]) < 5 {
		return chunk, 0
	}
	typ := string(fields[0][len(fields[0])-3:])
	idx, timed := timeField[typ]
	if !timed || idx >= len(fields) {
		return chunk, 0
	}
	var wait time.Duration
	tod, ok := parseTOD(fields[idx])
	switch {
	case ok:
		if ps.havePrev && tod != ps.prevTOD {
			wait = tod - ps.prevTOD
			if wait < 0 {
				wait += 24 * time.Hour // midnight
			}
			if wait > 10*time.Second {
				wait = time.Second // a gap in the log, not a wait to reproduce
			}
			ps.seen = nil
		}
		ps.prevTOD, ps.havePrev = tod, true
	case len(fields[idx]) == 0 && typ != "ZDA":
		// No time (no fix yet): a repeated type starts the next cycle.
		if ps.seen[typ] {
			wait = time.Second
			ps.seen = nil
		}
	}
	if ps.seen == nil {
		ps.seen = map[string]bool{}
	}
	ps.seen[typ] = true
	if !retime || !ok {
		return chunk, wait
	}
	wall := ps.wall(tod)
	fields[idx] = appendTOD(nil, wall, fields[idx])
	switch typ {
	case "RMC":
		if len(fields) > 9 && len(fields[9]) == 6 {
			fields[9] = []byte(wall.Format("020106"))
		}
	case "ZDA":
		if len(fields) > 4 && len(fields[4]) > 0 {
			fields[2] = []byte(wall.Format("02"))
			fields[3] = []byte(wall.Format("01"))
			fields[4] = []byte(wall.Format("2006"))
		}
	}
	return reframe(bytes.Join(fields, []byte{','}), end), wait
}

// wall maps a time of day of the log onto the wall clock.
func (ps *passState) wall(tod time.Duration) time.Time {
	if !ps.started {
		ps.started = true
		ps.tod0 = tod
		frac := tod % time.Second
		start := ps.now().UTC().Truncate(time.Second).Add(frac)
		if !start.After(ps.lastWall) {
			start = ps.lastWall.Truncate(time.Second).Add(time.Second + frac)
		}
		ps.wallStart = start
	}
	elapsed := tod - ps.tod0 + ps.days
	if elapsed < -12*time.Hour {
		ps.days += 24 * time.Hour
		elapsed += 24 * time.Hour
	}
	w := ps.wallStart.Add(elapsed)
	if w.After(ps.lastWall) {
		ps.lastWall = w
	}
	return w
}

// frame returns the body of a checksummed sentence "$body*hh" and its line
// end; ok is false for anything else (garbage is passed through as is).
func frame(chunk []byte) (body, end []byte, ok bool) {
	line := bytes.TrimRight(chunk, "\r\n")
	end = chunk[len(line):]
	if len(line) < 4 || line[0] != '$' || line[len(line)-3] != '*' {
		return nil, nil, false
	}
	body = line[1 : len(line)-3]
	want, err := strconv.ParseUint(string(line[len(line)-2:]), 16, 8)
	if err != nil || byte(want) != checksum(body) || bytes.ContainsAny(body, "$*") {
		return nil, nil, false
	}
	return body, end, true
}

func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s ^= c
	}
	return s
}

func reframe(body, end []byte) []byte {
	return fmt.Appendf(nil, "$%s*%02X%s", body, checksum(body), end)
}

// parseTOD parses hhmmss[.ss]; ok is false for an empty or broken field.
func parseTOD(b []byte) (time.Duration, bool) {
	if len(b) < 6 {
		return 0, false
	}
	h, err1 := strconv.Atoi(string(b[0:2]))
	m, err2 := strconv.Atoi(string(b[2:4]))
	s, err3 := strconv.ParseFloat(string(b[4:]), 64)
	if err1 != nil || err2 != nil || err3 != nil || h > 23 || m > 59 || s >= 61 {
		return 0, false
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s*float64(time.Second)+0.5), true
}

// appendTOD formats t's time of day with as many decimals as orig has.
func appendTOD(dst []byte, t time.Time, orig []byte) []byte {
	dst = t.AppendFormat(dst, "150405")
	if i := bytes.IndexByte(orig, '.'); i >= 0 {
		decimals := len(orig) - i - 1
		dst = append(dst, '.')
		ns := t.Nanosecond()
		for d := 0; d < decimals; d++ {
			ns *= 10
			dst = append(dst, byte('0'+ns/1e9))
			ns %= 1e9
		}
	}
	return dst
}
