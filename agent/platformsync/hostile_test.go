package platformsync_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
)

// hostileProxy forwards to the simulator, except for one path whose
// answer a test case replaces.
type hostileProxy struct {
	target string
	mu     gosync.Mutex
	path   string
	answer func(w http.ResponseWriter, r *http.Request, real []byte)
}

func (p *hostileProxy) set(path string, answer func(w http.ResponseWriter, r *http.Request, real []byte)) {
	p.mu.Lock()
	p.path, p.answer = path, answer
	p.mu.Unlock()
}

func (p *hostileProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	real, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.mu.Lock()
	path, answer := p.path, p.answer
	p.mu.Unlock()
	if path != "" && r.URL.Path == path {
		answer(w, r, real)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	w.Write(real)
}

func status200(body string) func(w http.ResponseWriter, r *http.Request, real []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) { io.WriteString(w, body) }
}

// Hostile or broken answers never crash the agent, never replace or wipe
// the last good model (in memory or on disk), and the sync recovers when
// the platform does.
func TestHostileAnswersKeepTheLastGoodModel(t *testing.T) {
	l := newLab(t, pttsim.Options{})
	proxy := &hostileProxy{target: l.sim.URL}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	hs := startHandset(t, l, hsOptions{baseURL: srv.URL, poll: 100 * time.Millisecond, timeout: 300 * time.Millisecond})
	hs.synced(t)

	const (
		org   = "/v1/corp/web/org-my-org"
		addr  = "/v1/corp/web/get-address-list"
		all   = "/v1/corp/web/group-getall"
		gmall = "/v1/corp/web/group-member-getall"
	)
	tts := 0
	memberChange := func() { // moves address_ver: the client reads the address list
		tts = 1 - tts
		l.op.Corp("member-change", map[string]any{"org_num": 100130, "member_id": l.dev.ID, "tts": tts}, nil)
	}
	n := 0
	groupChange := func() { // moves group_ver and member_version
		n++
		l.op.Corp("group-member-change", map[string]any{"group_id": l.patrol.ID, "member_id": l.admin.ID, "prority": n}, nil)
	}
	huge := strings.Repeat(" ", httpapi.DefaultMaxBody+10) + `{"errcode":0,"data":{}}`
	for _, tc := range []struct {
		name   string
		path   string
		change func()
		answer func(w http.ResponseWriter, r *http.Request, real []byte)
	}{
		{"not JSON", org, nil, status200("hello, world")},
		{"HTML error page", org, nil, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>")
		}},
		{"HTML with 200", addr, memberChange, status200("<!DOCTYPE html><html><body>Login required</body></html>")},
		{"truncated body", addr, memberChange, func(w http.ResponseWriter, r *http.Request, real []byte) { w.Write(real[:len(real)/2]) }},
		{"connection dropped mid-body", addr, memberChange, func(w http.ResponseWriter, r *http.Request, real []byte) {
			w.Header().Set("Content-Length", "100000")
			w.Write(real[:len(real)/2])
		}},
		{"wrong type: tts as text", addr, memberChange, func(w http.ResponseWriter, r *http.Request, real []byte) {
			w.Write(bytes.ReplaceAll(real, []byte(`"tts":`), []byte(`"tts":"yes","x":`)))
		}},
		{"wrong type: members as object", gmall, groupChange, func(w http.ResponseWriter, r *http.Request, real []byte) {
			io.WriteString(w, `{"errcode":0,"errmsg":"ok","data":{"members":{"user_id":1}}}`)
		}},
		{"errcode as a string, not 0", all, groupChange, status200(`{"errcode":"500","errmsg":"服务器内部错误"}`)},
		{"data null", gmall, groupChange, status200(`{"errcode":0,"errmsg":"请求成功","data":null}`)},
		{"this member missing", addr, memberChange, status200(`{"errcode":0,"errmsg":"请求成功","data":{"address_list":{"version":1,"members":[],"depts":[]}}}`)},
		{"group id 0", all, groupChange, status200(`{"errcode":0,"errmsg":"请求成功","data":{"groups":[{"id":0,"name":"x","member_version":1}]}}`)},
		{"huge body", org, nil, status200(huge)},
		{"30 s hang", org, nil, func(w http.ResponseWriter, r *http.Request, _ []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		}},
		{"empty 200", org, nil, status200("")},
		{"JSON array", org, nil, status200(`[1,2,3]`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := hs.e.Model()
			// The previous case's recovery may still be writing its model.
			var disk []byte
			waitFor(t, 5*time.Second, "the good model on disk", func() bool {
				disk, _ = os.ReadFile(hs.e.StatePath)
				var f struct{ Model *platform.Model }
				return json.Unmarshal(disk, &f) == nil && f.Model != nil && f.Model.Self == good.Self && reflect.DeepEqual(f.Model.Groups, good.Groups)
			})
			proxy.set(tc.path, tc.answer)
			start := time.Now()
			if tc.change != nil {
				tc.change()
			}
			waitFor(t, 10*time.Second, "a failed sync", func() bool {
				st := hs.e.Stats()
				return st.Failures > 0 && st.LastAttempt.After(start)
			})
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the failure took %v to show", d)
			}
			m := hs.e.Model()
			if m.Self != good.Self || !reflect.DeepEqual(m.Groups, good.Groups) {
				t.Errorf("model changed by a hostile answer:\n%+v\nwas\n%+v", m, good)
			}
			if now, _ := os.ReadFile(hs.e.StatePath); !bytes.Equal(now, disk) {
				t.Errorf("persisted model changed by a hostile answer")
			}
			t.Logf("error: %s", hs.e.Stats().LastError)
			proxy.set("", nil)
			waitFor(t, 10*time.Second, "recovery", func() bool { return hs.e.Stats().Failures == 0 })
			if tc.change != nil {
				// The first good answer after the proxy lets go may be a
				// version poll: the change comes with the fetch after it.
				waitFor(t, 10*time.Second, "the change behind the hostile answer", func() bool {
					m := hs.e.Model()
					return m.Self != good.Self || !reflect.DeepEqual(m.Groups, good.Groups)
				})
			}
		})
	}
}
