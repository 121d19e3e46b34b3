package platformsync_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	gosync "sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
)

// stallProxy forwards to the platform's API, or, while stalled, holds every
// request until it is released or its client gives up: the API unreachable
// (a hung load balancer, a captive portal) while MQTT still works.
type stallProxy struct {
	*httptest.Server
	mu      gosync.Mutex
	stalled chan struct{} // closed to release; nil when not stalled
	held    int
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		ch := p.stalled
		if ch != nil {
			p.held++
		}
		p.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	p.stalled = make(chan struct{})
	p.mu.Unlock()
}

func (p *stallProxy) release() {
	p.mu.Lock()
	if p.stalled != nil {
		close(p.stalled)
		p.stalled = nil
	}
	p.mu.Unlock()
}

func (p *stallProxy) holding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// While a fetch hangs on an unreachable API, events that arrive over MQTT
// still apply at once (they once waited behind the fetch and its retries,
// which delayed a text message or a loc_share change by most of a minute).
func TestEventsApplyWhileAFetchHangs(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	api := newStallProxy(t, l.sim.URL)
	hs := startHandset(t, l, hsOptions{events: true, poll: time.Hour, baseURL: api.URL, timeout: 20 * time.Second})
	hs.synced(t)
	hs.eventsLive(t, l)

	// The API stops answering; a malformed event makes the engine fetch,
	// and that fetch hangs.
	api.stall()
	defer api.release()
	l.sim.Republish(devAccount, []byte(`{"msg_id":`))
	waitFor(t, 5*time.Second, "a fetch stuck on the API", func() bool { return api.holding() > 0 })

	// The operator turns location sharing off (through the platform's
	// own API, which works; only this handset's path to it hangs).
	start := time.Now()
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "loc_share": 0, "track": 2}, nil)
	hs.waitModel(t, 2*time.Second, "loc_share 0 while the fetch hangs", func(m *platform.Model) bool {
		return !m.Self.LocShare && m.Self.Track == 2
	})
	t.Logf("applied %v after the change, with %d request(s) hanging", time.Since(start), api.holding())

	// The API answers again: the fetch completes and the model stays right.
	api.release()
	waitFor(t, 10*time.Second, "the fetch to complete", func() bool { return hs.e.Stats().Fetches >= 2 })
	if m := hs.e.Model(); m.Self.LocShare || m.Self.Track != 2 {
		t.Errorf("after the fetch: loc_share %v, track %d", m.Self.LocShare, m.Self.Track)
	}
}
