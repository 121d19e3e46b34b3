package corp_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim"
	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
)

// A token the platform forgot is answered with the seed's refusal,
// {"errcode":"105","errmsg":"账号或密码错误"}: the client refreshes it and
// carries on; when the refresh is refused too, it logs in again. Tokens
// live the seed's 24 h, so nothing but the refusal can make it renew.
func TestSeedRefusalRenewsTheToken(t *testing.T) {
	s := simtest.Start(t, pttsim.Options{TokenTTL: 24 * time.Hour})
	dev, _ := s.AddMember(pttsim.MemberSpec{Num: "dev-1", Password: "pw", Type: pttsim.TypeDevice})
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: s.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := &corp.Client{HTTP: h, Account: "dev-1", Password: corp.HashPassword("pw")}
	m, err := c.Fetch(t.Context(), nil)
	if err != nil || m.Self.ID != dev.ID {
		t.Fatalf("first fetch: %+v %v", m, err)
	}
	s.ExpireTokens()
	if _, err := c.Fetch(t.Context(), m); err != nil {
		t.Fatalf("after the platform forgot the token: %v", err)
	}
	if st := c.Stats(); st.Logins != 1 || st.Refreshes != 1 || st.TokenRefused != 1 {
		t.Errorf("stats %+v: want the 105 taken as a refusal and the token refreshed", st)
	}
	s.ExpireTokens()
	s.RevokeRefreshTokens()
	if _, err := c.Fetch(t.Context(), m); err != nil {
		t.Fatalf("after the platform forgot the token and the refresh token: %v", err)
	}
	if st := c.Stats(); st.Logins != 2 || st.RefreshRefused != 1 || st.TokenRefused != 2 {
		t.Errorf("stats %+v: want a refused refresh and a second login", st)
	}
}

// seedPlatform answers logins and refreshes as seed 000 does, and every
// token-authenticated call with answer(path, token).
type seedPlatform struct {
	mu                sync.Mutex
	logins, refreshes int
	n                 int // tokens issued
	answer            func(path, token string) string
	loginRefused      bool
	requestsByPath    map[string]int
}

func (p *seedPlatform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.requestsByPath == nil {
		p.requestsByPath = map[string]int{}
	}
	p.requestsByPath[r.URL.Path]++
	switch r.URL.Path {
	case "/v1/corp/web/login-by-name":
		if p.loginRefused {
			io.WriteString(w, seedError)
			return
		}
		p.logins++
		p.n++
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"请求成功","data":{"user":{"id":1253488,"num":"70014762","name":"x"},"org":{"num":100130},"access_token":"tok%d","expires_in":86400,"refresh_token":"ref%d"}}`, p.n, p.n)
	case "/v1/sessions/refresh":
		p.refreshes++
		p.n++
		fmt.Fprintf(w, `{"errcode":0,"errmsg":"请求成功","data":{"access_token":"tok%d","expires_in":86400,"refresh_token":"ref%d"}}`, p.n, p.n)
	default:
		io.WriteString(w, p.answer(r.URL.Path, r.URL.Query().Get("access-token")))
	}
}

func (p *seedPlatform) counts() (logins, refreshes int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logins, p.refreshes
}

const seedOrg = `{"errcode":0,"errmsg":"请求成功","data":{"corp":{"num":100130,"group_ver":1,"address_ver":1}}}`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func seedClient(t *testing.T, p *seedPlatform, now *clock) *corp.Client {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	hc, err := httpapi.NewHTTP(httpapi.Options{BaseURL: srv.URL, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &corp.Client{HTTP: hc, Account: "70014762", Password: corp.HashPassword("123456"), Now: now.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// A platform that refuses every token (105 on every call) gets no login
// storm: the first refusal renews at once, the following ones wait a
// growing backoff, whatever the caller's rate.
func TestRefusalsBackOff(t *testing.T) {
	p := &seedPlatform{answer: func(string, string) string { return seedError }}
	now := &clock{t: time.Unix(1_700_000_000, 0)}
	c := seedClient(t, p, now)
	for range 50 {
		_, err := c.Fetch(t.Context(), nil)
		if !errors.Is(err, corp.ErrTokenRefused) {
			t.Fatalf("err = %v, want ErrTokenRefused", err)
		}
	}
	if l, r := p.counts(); l+r != 2 {
		t.Errorf("50 fetches at one instant: %d logins and %d refreshes; want 2 (the login, one renewal)", l, r)
	}
	// Each wait longer than the backoff cap lets exactly one more renewal
	// through, however many calls ask.
	for i := range 5 {
		now.Add(corp.RenewBackoffMax)
		for range 10 {
			c.Fetch(t.Context(), nil)
		}
		if l, r := p.counts(); l+r != 3+i {
			t.Fatalf("round %d: %d renewals, want %d", i, l+r, 3+i)
		}
	}
	_, err := c.Fetch(t.Context(), nil)
	if err == nil || !errors.Is(err, corp.ErrTokenRefused) {
		t.Fatalf("held back: %v", err)
	}
	t.Logf("held back: %v", err)
	if st := c.Stats(); st.HeldBack == 0 {
		t.Errorf("stats %+v", st)
	}

	// A wrong password: logins back off the same way.
	p = &seedPlatform{loginRefused: true}
	c = seedClient(t, p, now)
	for range 20 {
		c.Fetch(t.Context(), nil)
	}
	p.mu.Lock()
	tries := p.requestsByPath["/v1/corp/web/login-by-name"]
	p.mu.Unlock()
	if tries != 2 {
		t.Errorf("20 fetches with a wrong password tried %d logins, want 2", tries)
	}
}

// An errcode the client does not know is taken as a refusal once: renewed
// and asked again. If the fresh token gets the same answer, it is not
// about the token and is never taken as a refusal again; if the fresh
// token is accepted, it was one.
func TestUnknownErrcodeIsARefusalOnce(t *testing.T) {
	p := &seedPlatform{answer: func(path, tok string) string {
		return `{"errcode":"7","errmsg":"系统繁忙"}`
	}}
	now := &clock{t: time.Unix(1_700_000_000, 0)}
	c := seedClient(t, p, now)
	for i := range 3 {
		_, err := c.Fetch(t.Context(), nil)
		var api *corp.APIError
		if !errors.As(err, &api) || api.Code != 7 || errors.Is(err, corp.ErrTokenRefused) {
			t.Fatalf("fetch %d: err = %v, want errcode 7 as it is", i, err)
		}
	}
	if l, r := p.counts(); l != 1 || r != 1 {
		t.Errorf("%d logins, %d refreshes; want errcode 7 to cost one refresh, once", l, r)
	}

	// errcode 9 for tok1 only: the refreshed token works.
	p = &seedPlatform{answer: func(path, tok string) string {
		if tok == "tok1" {
			return `{"errcode":9,"errmsg":"会话失效"}`
		}
		if path == "/v1/corp/web/org-my-org" {
			return seedOrg
		}
		return `{"errcode":0,"errmsg":"请求成功","data":{}}`
	}}
	c = seedClient(t, p, now)
	_, err := c.Fetch(t.Context(), nil)
	var api *corp.APIError
	if errors.As(err, &api) && api.Code == 9 {
		t.Fatalf("errcode 9 not renewed: %v", err)
	}
	if st := c.Stats(); st.Refreshes != 1 || st.TokenRefused != 1 {
		t.Errorf("stats %+v", st)
	}
}

// HTTP 401 and 403 are refusals too.
func TestHTTPUnauthorizedIsARefusal(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		p := &seedPlatform{answer: func(path, tok string) string { return seedOrg }}
		var mu sync.Mutex
		refused := false
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			first := !refused && r.URL.Path == "/v1/corp/web/org-my-org"
			refused = refused || first
			mu.Unlock()
			if first {
				w.WriteHeader(code)
				return
			}
			p.ServeHTTP(w, r)
		}))
		hc, _ := httpapi.NewHTTP(httpapi.Options{BaseURL: srv.URL, Timeout: 2 * time.Second, Attempts: 1})
		c := &corp.Client{HTTP: hc, Account: "70014762", Password: "x"}
		// The fake has no user-selfinfo: the fetch gets that far and no further.
		_, err := c.Fetch(t.Context(), nil)
		var bad *httpapi.Malformed
		if !errors.As(err, &bad) || bad.Op != "/v1/corp/web/user-selfinfo" {
			t.Errorf("HTTP %d: %v", code, err)
		}
		if l, r := p.counts(); l != 1 || r != 1 {
			t.Errorf("HTTP %d: %d logins, %d refreshes; want the token refreshed", code, l, r)
		}
		srv.Close()
	}
}
