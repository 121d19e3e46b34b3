package pttsim

import (
	"math"
	"slices"
	"sort"

	"github.com/pttagent/pttagent/wire"
)

// onTrack stores a batch from {prefix}/dev/{account}/track: decoded with
// wire.DecodeTrackBatch, de-duplicated by seq per device (docs/protocol.md:
// a point whose seq is stored already is a redelivery). A seq above the
// next one expected means points lost on the handset (queue full, disk
// full, a store lost): counted and logged — unless they come
// after all: a broker may hand a QoS 1 message over late, after newer
// ones (a NATS cluster redelivering through a new JetStream leader after
// a node died), and a point that fills a gap between two stored ones is
// stored in its place and no longer counted missing.
func (s *Sim) onTrack(topic string, payload []byte) {
	acct := wire.DeviceOf(s.o.Prefix, topic)
	pts, err := wire.DecodeTrackBatch(payload)
	if err != nil || acct == "" {
		s.mu.Lock()
		s.stats.TrackBad++
		s.mu.Unlock()
		s.log.Warn("dropping a bad track batch", "topic", topic, "err", err)
		return
	}
	s.mu.Lock()
	tl := s.w.Tracks[acct]
	if tl == nil {
		tl = &trackLog{}
		s.w.Tracks[acct] = tl
	}
	var (
		stored []wire.Point
		gaps   [][2]uint64
	)
	for _, p := range pts {
		if p.Seq <= tl.LastSeq {
			if tl.fill(p) {
				tl.Missing--
				s.stats.TrackMissing--
				s.stats.TrackLate++
				stored = append(stored, p)
				s.stats.TrackPoints++
				continue
			}
			tl.Dups++
			s.stats.TrackDuplicates++
			continue
		}
		if tl.LastSeq > 0 && p.Seq > tl.LastSeq+1 {
			tl.Missing += p.Seq - tl.LastSeq - 1
			s.stats.TrackMissing += int(p.Seq - tl.LastSeq - 1)
			gaps = append(gaps, [2]uint64{tl.LastSeq, p.Seq})
		}
		tl.LastSeq = p.Seq
		tl.Points = append(tl.Points, p)
		stored = append(stored, p)
		s.stats.TrackPoints++
	}
	if over := len(tl.Points) - s.o.MaxTrackPoints; over > 0 {
		tl.Points = slices.Delete(tl.Points, 0, over)
	}
	s.dirty = true
	s.mu.Unlock()
	for _, g := range gaps {
		s.log.Warn("track points missing: lost on the handset", "account", acct, "after_seq", g[0], "next_seq", g[1], "missing", g[1]-g[0]-1)
	}
	for _, p := range stored {
		s.log.Info("track point stored", "account", acct, "seq", p.Seq, "created", p.Created,
			"lat", p.Latitude, "lon", p.Longitude, "speed_kmh", num(p.Speed), "trigger", p.Trigger)
	}
}

// Tracks returns the points stored for a device account, oldest first.
func (s *Sim) Tracks(account string) []wire.Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tl := s.w.Tracks[account]; tl != nil {
		return slices.Clone(tl.Points)
	}
	return nil
}

// online (s.mu held): a device that published a point in the last 10 minutes. (The
// retained presence would be more exact; tracks are what the seeds' online
// flags are used for.)
func (s *Sim) online(account string) bool {
	tl := s.w.Tracks[account]
	return tl != nil && len(tl.Points) > 0 && s.now().Unix()-tl.Points[len(tl.Points)-1].Created < 600
}

type pointView struct {
	wire.Point
	uid int64
}

// num turns "not known" (NaN) into null.
func num(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// fill stores p in its place if it falls in a gap between two stored
// points (a gap counted missing when the later one came); false if it is
// stored already or older than what is kept (a redelivery).
func (tl *trackLog) fill(p wire.Point) bool {
	i := sort.Search(len(tl.Points), func(k int) bool { return tl.Points[k].Seq >= p.Seq })
	found := i < len(tl.Points) && tl.Points[i].Seq == p.Seq
	if found || i == 0 || i == len(tl.Points) || tl.Missing == 0 {
		return false
	}
	tl.Points = slices.Insert(tl.Points, i, p)
	return true
}
