package pttsim

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"time"
)

// The web console: a page an operator opens on the bench (GET /console)
// to look rather than read logs — the devices with presence, active group
// and floor state, their tracks on a map, the floor of each group live,
// the recordings to play, and the feeds other features register (notices,
// emergency alerts; console_state.go). Plain HTML, CSS and JavaScript
// embedded in the binary: no build step, no network but the simulator's
// own (the map is a coordinate grid drawn in SVG, no tile server).
//
//	GET /console                  the page
//	GET /console/api/state        ConsoleState, JSON
//	GET /console/api/track/{acct} the last ?n= (default 2000) points of a device
//	GET /console/events           ConsoleState as server-sent events, each time it changes

//go:embed console
var consoleFiles embed.FS

// consoleTick is how often /console/events looks for a change. A look is
// cheap (a copy of the small parts of the world under the lock); polling
// it keeps the console out of the code paths that change the world.
const consoleTick = 200 * time.Millisecond

// consoleKeepAlive is the comment line that keeps an idle event stream
// open through proxies.
const consoleKeepAlive = 15 * time.Second

func (s *Sim) mountConsole(mux *http.ServeMux) {
	static, _ := fs.Sub(consoleFiles, "console")
	files := http.StripPrefix("/console/", http.FileServerFS(static))
	mux.Handle("GET /console/", noCache(files))
	mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	mux.HandleFunc("GET /console/api/state", func(w http.ResponseWriter, r *http.Request) {
		consoleJSON(w, s.ConsoleState())
	})
	mux.HandleFunc("GET /console/api/track/{account}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n <= 0 || n > 100_000 {
			n = 2000
		}
		consoleJSON(w, s.ConsoleTrack(r.PathValue("account"), n))
	})
	mux.HandleFunc("GET /console/events", s.consoleEvents)
}

// noCache makes a browser ask again for the page after pttsim is rebuilt.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func consoleJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// consoleEvents streams the state: at once, then whenever it changes.
func (s *Sim) consoleEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	// A browser reconnects by itself after a drop; say how soon.
	if _, err := w.Write([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(consoleTick)
	defer tick.Stop()
	var last []byte
	quiet := time.Now()
	for {
		b, err := json.Marshal(s.ConsoleState())
		if err != nil {
			s.log.Error("console state", "err", err)
			return
		}
		switch {
		case !bytes.Equal(b, last):
			last = b
			quiet = time.Now()
			if _, err := w.Write(append(append([]byte("event: state\ndata: "), b...), "\n\n"...)); err != nil {
				return
			}
			fl.Flush()
		case time.Since(quiet) >= consoleKeepAlive:
			quiet = time.Now()
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
