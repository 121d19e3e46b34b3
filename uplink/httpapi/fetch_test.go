package httpapi_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pttagent/pttagent/uplink/httpapi"
)

// A voice message's URL is data anyone who can post a message chose: the
// handset fetches only from the platform's own scheme and host:port
// (redirects included), at most the bound, and sends no token.
func TestFetchOnlyFromThePlatform(t *testing.T) {
	other := startElsewhere(t)
	var flaky atomic.Int32
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("access-token") || r.Header.Get("token") != "" {
			t.Errorf("a fetch carried %q %q", r.URL.RawQuery, r.Header.Get("token"))
		}
		switch r.URL.Path {
		case "/files/a.opus":
			io.WriteString(w, "OggS voice")
		case "/files/big.opus":
			io.WriteString(w, strings.Repeat("x", 2000))
		case "/files/flaky.opus":
			if flaky.Add(1) == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "second time")
		case "/files/moved.opus":
			http.Redirect(w, r, other.URL+"/files/a.opus", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(platform.Close)
	h := transportTo(t, platform.URL, "")
	for url, want := range map[string]string{
		platform.URL + "/files/a.opus":         "OggS voice",
		"/files/a.opus":                        "OggS voice",
		platform.URL + "/files/flaky.opus?d=8": "second time",
	} {
		b, err := h.Fetch(t.Context(), url, 1000)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q %v", url, b, err)
		}
	}
	for url, want := range map[string]error{
		other.URL + "/files/a.opus":                                                       httpapi.ErrForeignURL,
		strings.Replace(platform.URL, "http:", "https:", 1) + "/x":                        httpapi.ErrForeignURL,
		"http://user:pw@" + strings.TrimPrefix(platform.URL, "http://") + "/files/a.opus": httpapi.ErrForeignURL,
		platform.URL + "/files/big.opus":                                                  httpapi.ErrTooLarge,
		platform.URL + "/files/moved.opus":                                                httpapi.ErrRedirect,
	} {
		if _, err := h.Fetch(t.Context(), url, 1000); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", url, err, want)
		}
	}
	if _, err := h.Fetch(t.Context(), platform.URL+"/files/missing.opus", 1000); err == nil {
		t.Error("a 404 fetched")
	}
	if other.hits.Load() != 0 {
		t.Error("the other host was asked")
	}
}
