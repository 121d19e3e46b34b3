package wapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/wapi"
)

func transport(t *testing.T, url string) *httpapi.HTTP {
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: url, Timeout: 2 * time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	h.BackoffMin, h.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	return h
}

// seedShaped serves pttsim's wapi without POST /wapi/user/login, as a
// platform built from seed 003 alone would, and counts the login attempts.
func seedShaped(t *testing.T, s *simtest.Sim) (url string, logins *atomic.Int32) {
	logins = &atomic.Int32{}
	h := s.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wapi/user/login" {
			logins.Add(1)
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, logins
}

// The token the platform's operator issued is how a wapi handset
// authenticates: with it (and a password configured too, as agents had
// it), the client never calls the login seed 003 does not have, finds its
// id in orgUser/tree, and reports a refused token instead of looping.
func TestOperatorsToken(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	s.CreateGroup(pttsim.GroupSpec{Name: "G", Members: []int64{dev.ID}})
	tok, err := s.IssueToken("dev-1")
	if err != nil {
		t.Fatal(err)
	}
	url, logins := seedShaped(t, s)
	c := &wapi.Client{HTTP: transport(t, url), Account: "dev-1", Token: tok, Password: simtest.MD5("pw")}
	m, err := c.Fetch(t.Context(), nil)
	if err != nil || m.Self.ID != dev.ID || len(m.Groups) != 1 {
		t.Fatalf("fetch: %+v %v", m, err)
	}
	s.ExpireTokens()
	_, err = c.Fetch(t.Context(), m)
	if !errors.Is(err, wapi.ErrNotLoggedIn) || !strings.Contains(err.Error(), "refused platform_token") {
		t.Errorf("expired token: %v", err)
	}
	if st := c.Stats(); st.Logins != 0 || logins.Load() != 0 {
		t.Errorf("logged in (%d attempts) with the operator's token configured: %+v", logins.Load(), st)
	}
	c = &wapi.Client{HTTP: transport(t, url), Account: "dev-1"}
	if _, err := c.Fetch(t.Context(), nil); err == nil || !strings.Contains(err.Error(), "no platform_token") {
		t.Errorf("no token: %v", err)
	}
}

// Asked to log in (platform.wapi_login: user-login), against a platform
// that has no login call, the client says what to configure instead.
func TestNoLoginCallSaysWhatToConfigure(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	url, _ := seedShaped(t, s)
	c := &wapi.Client{HTTP: transport(t, url), Account: "dev-1", Login: true, Password: simtest.MD5("pw")}
	_, err := c.Fetch(t.Context(), nil)
	if !errors.Is(err, wapi.ErrNoLoginCall) || !strings.Contains(err.Error(), "platform_token") ||
		!strings.Contains(err.Error(), "platform.wapi_login: token") {
		t.Errorf("err = %v", err)
	}
	// pttsim itself serves the login: with it, user-login works.
	c = &wapi.Client{HTTP: transport(t, s.URL), Account: "dev-1", Login: true, Password: simtest.MD5("pw")}
	if _, err := c.Fetch(t.Context(), nil); err != nil {
		t.Errorf("user-login against pttsim: %v", err)
	}
}

// HTTP 5xx is retried by the transport; a 5xx status in the envelope is an
// error the sync retries later; both leave a clear message.
func TestRetriesAndStatuses(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch {
		case r.URL.Path == "/wapi/user/login" && calls == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html>busy</html>")
		case r.URL.Path == "/wapi/user/login":
			io.WriteString(w, `{"status":"200","message":"成功","data":{"token":"t","id":"11783","expiresIn":"3600"}}`)
		default:
			io.WriteString(w, `{"status":517,"message":"用户不存在","data":null}`)
		}
	}))
	defer srv.Close()
	c := &wapi.Client{HTTP: transport(t, srv.URL), Account: "ceshi1", Login: true, Password: "x"}
	_, err := c.Fetch(t.Context(), nil)
	var api *wapi.APIError
	if !errors.As(err, &api) || api.Status != 517 || calls != 3 {
		t.Errorf("err %v after %d calls", err, calls)
	}
}

func FuzzDecodeUserInfo(f *testing.F) {
	f.Add([]byte(`{"status":200,"message":"","data":{"id":11783,"account":"ceshi1","name":"ddd","priority":10,"state":1,"groups":[{"id":252,"type":0,"name":"g","priority":10,"innerPriority":3,"talkTime":60,"callPermission":"N","canSpeak":"Y"}]}}`))
	f.Add([]byte(`{"status":"501","message":"未登录","data":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var env wapi.Envelope
		if httpapi.DecodeJSON("x", b, &env) != nil {
			return
		}
		var ui wapi.UserInfo
		httpapi.DecodeJSON("x", env.Data, &ui)
		var tree wapi.TreeNode
		httpapi.DecodeJSON("x", env.Data, &tree)
	})
}
