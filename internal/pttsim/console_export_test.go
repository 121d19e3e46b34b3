package pttsim

import (
	"slices"

	"github.com/pttagent/pttagent/wire"
)

// RegisterConsoleFeed lets the external tests add a feed as a feature
// does, and take it away again.
func RegisterConsoleFeed(name, title string, items func(*Sim) []ConsoleItem) (remove func()) {
	registerConsoleFeed(name, title, items)
	return func() {
		feedsMu.Lock()
		defer feedsMu.Unlock()
		consoleFeeds = slices.DeleteFunc(consoleFeeds, func(f consoleFeed) bool { return f.Name == name })
	}
}

// StoreTrackForTest stores points as if a handset had published them.
func (s *Sim) StoreTrackForTest(account string, pts []wire.Point) {
	for i := 0; i < len(pts); i += 50 {
		s.onTrack(s.o.Prefix+"/dev/"+account+"/track", wire.AppendTrackBatch(nil, pts[i:min(i+50, len(pts))]))
	}
}
