package httpapi_test

import (
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// elsewhere is a second listener on loopback: another host:port, as far
// as the redirect rule goes. It counts what reaches it.
type elsewhere struct {
	*httptest.Server
	hits atomic.Int32
}

func startElsewhere(t *testing.T) *elsewhere {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		t.Errorf("the redirect was followed: %s %s token=%q body=%q", r.Method, r.URL, r.Header.Get("token"), body)
		io.WriteString(w, `{"errcode":0}`)
	}))
	t.Cleanup(e.Close)
	return e
}

func transportTo(t *testing.T, base, caFile string) *httpapi.HTTP {
	t.Helper()
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: base, CAFile: caFile, Timeout: 2 * time.Second, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	h.BackoffMin, h.BackoffMax = time.Millisecond, 2*time.Millisecond
	return h
}

// A 307 would re-send the corp login body (account and password hash) and
// a 302 the wapi token header to another host: neither is followed, the
// error says why and names no token, and it is not retried.
func TestCrossHostRedirectsAreRefused(t *testing.T) {
	other := startElsewhere(t)
	var asked atomic.Int32
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		switch r.URL.Path {
		case "/v1/corp/web/login-by-name":
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		case "/wapi/user/info":
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		case "/v1/corp/web/org-my-org":
			// The same machine under another name is another host too.
			http.Redirect(w, r, strings.Replace(platformURL(r), "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}))
	defer platform.Close()
	h := transportTo(t, platform.URL, "")
	for _, req := range []httpapi.Request{
		{Path: "/v1/corp/web/login-by-name", Body: map[string]string{"user_name": "dev-1", "password": "e10adc3949ba59abbe56e057f20f883e"}},
		{Method: http.MethodGet, Path: "/wapi/user/info", Header: http.Header{"Token": {"wapi-secret-token"}}},
		{Path: "/v1/corp/web/org-my-org", Query: url.Values{"access-token": {"corp-secret-token"}}},
	} {
		before := asked.Load()
		_, err := h.Do(t.Context(), req)
		var pe *httpapi.Error
		if !errors.Is(err, httpapi.ErrRedirect) || !errors.As(err, &pe) || pe.Temporary {
			t.Fatalf("%s: err = %#v", req.Path, err)
		}
		if !strings.Contains(err.Error(), "another host") || !strings.Contains(err.Error(), "platform.base_url") {
			t.Errorf("%s: the error does not say what to do: %v", req.Path, err)
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "e10adc") {
			t.Errorf("%s: the error shows a secret: %v", req.Path, err)
		}
		if n := asked.Load() - before; n != 1 {
			t.Errorf("%s: asked %d times; a refused redirect is not retried", req.Path, n)
		}
	}
	if other.hits.Load() != 0 {
		t.Errorf("%d requests reached the other host", other.hits.Load())
	}
}

func platformURL(r *http.Request) string { return "http://" + r.Host }

// https → http is refused even to the same host and port: the body and
// headers would cross the network in clear.
func TestDowngradeRedirectsAreRefused(t *testing.T) {
	other := startElsewhere(t)
	var hits atomic.Int32
	platform := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "http://"+r.Host+"/same", http.StatusTemporaryRedirect)
		case "/other":
			http.Redirect(w, r, other.URL+"/other", http.StatusTemporaryRedirect)
		}
	}))
	defer platform.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: platform.Certificate().Raw}), 0o600)
	h := transportTo(t, platform.URL, ca)
	for _, path := range []string{"/same", "/other"} {
		_, err := h.Do(t.Context(), httpapi.Request{Path: path, Header: http.Header{"Token": {"t"}}, Body: map[string]string{"password": "x"}})
		if !errors.Is(err, httpapi.ErrRedirect) || !strings.Contains(err.Error(), "downgrade to plaintext") {
			t.Errorf("%s: err = %v", path, err)
		}
	}
	if hits.Load() != 2 || other.hits.Load() != 0 {
		t.Errorf("platform asked %d times, other host %d", hits.Load(), other.hits.Load())
	}
}

// A platform that moved a path on the same host is followed, body and
// all, a bounded number of times.
func TestSameHostRedirectsAreFollowedBounded(t *testing.T) {
	var loops atomic.Int32
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new?"+r.URL.RawQuery, http.StatusPermanentRedirect)
		case "/new":
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, r.Method+" "+r.URL.Query().Get("access-token")+" "+string(b))
		case "/loop":
			loops.Add(1)
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer platform.Close()
	h := transportTo(t, platform.URL, "")
	got, err := h.Do(t.Context(), httpapi.Request{Path: "/old", Query: url.Values{"access-token": {"tok"}}, Body: map[string]int{"org_num": 1}})
	if err != nil || string(got) != `POST tok {"org_num":1}` {
		t.Errorf("same-host redirect: %q %v", got, err)
	}
	_, err = h.Do(t.Context(), httpapi.Request{Method: http.MethodGet, Path: "/loop"})
	if !errors.Is(err, httpapi.ErrRedirect) || !strings.Contains(err.Error(), "more than 3 redirects") {
		t.Errorf("loop: %v", err)
	}
	if n := loops.Load(); n != 4 {
		t.Errorf("loop followed %d times, want 4 (the request and 3 redirects)", n)
	}
}
