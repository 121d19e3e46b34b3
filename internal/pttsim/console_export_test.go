package pttsim

import "slices"

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
