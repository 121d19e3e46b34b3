package pttsim

import (
	"slices"

	"github.com/pttagent/pttagent/wire"
)

// RegisterConsoleFeed lets the external tests put a feed in place of
// the feature's of that name, and puts the feature's back afterwards.
func RegisterConsoleFeed(name, title string, items func(*Sim) []ConsoleItem) (restore func()) {
	feedsMu.Lock()
	i := slices.IndexFunc(consoleFeeds, func(f consoleFeed) bool { return f.Name == name })
	var prev *consoleFeed
	if i >= 0 {
		f := consoleFeeds[i]
		prev = &f
	}
	feedsMu.Unlock()
	registerConsoleFeed(name, title, items)
	return func() {
		if prev != nil {
			registerConsoleFeed(prev.Name, prev.Title, prev.Items)
			return
		}
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
