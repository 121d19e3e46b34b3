package platformsync_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/wire"
)

// frozenVersions forwards to the simulator and pins every version counter
// in its answers to 1: a platform that changes members and groups without
// moving address_ver, group_ver or member_version (the seed never says
// when they move).
type frozenVersions struct{ target string }

var versionField = regexp.MustCompile(`"(group_ver|address_ver|member_version)":"?[0-9]+"?`)

func (p frozenVersions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	w.Write(versionField.ReplaceAll(answer, []byte(`"$1":1`)))
}

func frozen(t *testing.T, l *lab) string {
	srv := httptest.NewServer(frozenVersions{target: l.sim.URL})
	t.Cleanup(srv.Close)
	return srv.URL
}

// The operator's changes do not move the versions the handset sees: polls
// cannot find them, the periodic full refresh does, and the polls in
// between stay one request each.
func TestFullRefreshFindsWhatVersionsHide(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{baseURL: frozen(t, l), poll: 100 * time.Millisecond, fullRefresh: time.Second})
	hs.synced(t)
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 3}, nil)
	l.op.Corp("group-member-add", map[string]any{"group_id": l.other.ID, "member_ids": []int64{l.dev.ID}}, nil)
	hs.waitModel(t, 5*time.Second, "track 3 and group Other, by a full refresh", func(m *platform.Model) bool {
		return m.Self.Track == 3 && m.Group(l.other.ID) != nil
	})

	st0, req0 := hs.e.Stats(), hs.corp.Stats().Requests
	waitFor(t, 10*time.Second, "two more full refreshes", func() bool { return hs.e.Stats().FullFetches >= st0.FullFetches+2 })
	st1, req1 := hs.e.Stats(), hs.corp.Stats().Requests
	fetches, full, requests := st1.Fetches-st0.Fetches, st1.FullFetches-st0.FullFetches, req1-req0
	// A full fetch here is 6 requests (org-my-org, user-selfinfo, address
	// list, group list, two member lists), a poll 1; one may be under way.
	t.Logf("%d fetches, %d full, %d requests", fetches, full, requests)
	if fetches <= full || requests > (fetches-full)+6*full+6 {
		t.Errorf("%d fetches (%d full) took %d requests: polls between full refreshes should be one request", fetches, full, requests)
	}
}

// The versions persisted in platform.json are not trusted after a
// restart: the first fetch reads everything, so a change the versions hid
// while the handset was off is found at once, not at the next full
// refresh.
func TestFirstFetchAfterStartTrustsNoVersion(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	url, dir := frozen(t, l), t.TempDir()
	hs := startHandset(t, l, hsOptions{baseURL: url, stateDir: dir, poll: time.Hour, fullRefresh: -1})
	hs.synced(t)
	hs.stop()
	l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "track": 3}, nil)
	l.op.Corp("group-member-add", map[string]any{"group_id": l.other.ID, "member_ids": []int64{l.dev.ID}}, nil)

	hs = startHandset(t, l, hsOptions{baseURL: url, stateDir: dir, poll: time.Hour, fullRefresh: -1})
	if !hs.e.Stats().FromDisk || hs.e.Model().Versions.Address != 1 {
		t.Fatalf("not started from the persisted model: %+v", hs.e.Stats())
	}
	hs.waitModel(t, 5*time.Second, "track 3 and group Other after the restart", func(m *platform.Model) bool {
		return m.Self.Track == 3 && m.Group(l.other.ID) != nil
	})
}

// With events, the poll is rare; the full refresh then waits for a fetch
// that happens anyway instead of waking the handset on its own.
func TestFullRefreshRidesOnAFetchThatHappensAnyway(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	hs := startHandset(t, l, hsOptions{events: true, poll: time.Hour, fullRefresh: 50 * time.Millisecond})
	hs.synced(t)
	hs.eventsLive(t, l)
	hs.idle(t) // the MQTT connection's fetch and the probes' have ended
	settled := hs.e.Stats().Fetches
	time.Sleep(500 * time.Millisecond) // ten full-refresh periods
	if st := hs.e.Stats(); st.Fetches != settled {
		t.Fatalf("%d fetches with nothing to fetch for: the full refresh woke the handset by itself", st.Fetches-settled)
	}
	full := hs.e.Stats().FullFetches
	ev := wire.Event{MsgID: 77, MsgType: "corp-something-new", Timestamp: time.Now().Unix(), Content: []byte(`{}`)}
	l.sim.Republish(devAccount, ev.Encode())
	waitFor(t, 5*time.Second, "a full fetch riding on the event's", func() bool { return hs.e.Stats().FullFetches > full })
}
