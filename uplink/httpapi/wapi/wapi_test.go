package wapi_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// With a fixed token (no login call), the client finds its id in
// orgUser/tree; a refused fixed token is reported, not looped on.
func TestFixedToken(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	s.CreateGroup(pttsim.GroupSpec{Name: "G", Members: []int64{dev.ID}})
	var login struct {
		Data struct{ Token string } `json:"data"`
	}
	json.Unmarshal(s.Raw(t, "POST", "/wapi/user/login", nil, map[string]any{"account": "dev-1", "password": simtest.MD5("pw")}), &login)

	c := &wapi.Client{HTTP: transport(t, s.URL), Account: "dev-1", Token: login.Data.Token}
	m, err := c.Fetch(t.Context(), nil)
	if err != nil || m.Self.ID != dev.ID || len(m.Groups) != 1 {
		t.Fatalf("fetch: %+v %v", m, err)
	}
	s.ExpireTokens()
	_, err = c.Fetch(t.Context(), m)
	if !errors.Is(err, wapi.ErrNotLoggedIn) || !strings.Contains(err.Error(), "platform_token was refused") {
		t.Errorf("expired fixed token: %v", err)
	}
	if st := c.Stats(); st.Logins != 0 {
		t.Errorf("logged in without a password: %+v", st)
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
	c := &wapi.Client{HTTP: transport(t, srv.URL), Account: "ceshi1", Password: "x"}
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
