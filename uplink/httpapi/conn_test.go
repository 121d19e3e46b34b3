package httpapi_test

import (
	"context"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/wait"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/radio"
)

// A fetch's requests share one connection; CloseIdle ends it, and the
// next fetch resumes the TLS session instead of a full handshake. The
// radio hears of the traffic, and the connection has no TCP keep-alive.
func TestConnectionPerFetchResumesTLS(t *testing.T) {
	var (
		mu      sync.Mutex
		resumed []bool
		conns   = map[string]bool{}
	)
	platform := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		resumed = append(resumed, r.TLS.DidResume)
		conns[r.RemoteAddr] = true
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	platform.StartTLS()
	defer platform.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: platform.Certificate().Raw}), 0o600)
	rad := &radio.Radio{}
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: platform.URL, CAFile: ca, Timeout: 2 * time.Second, Radio: rad})
	if err != nil {
		t.Fatal(err)
	}
	// The dialer the transport uses must not turn TCP keep-alive on.
	tr := h.Client.Transport.(*http.Transport)
	dial := tr.DialContext
	var keepAlive []bool
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			raw := c
			if w, ok := c.(interface{ NetConn() net.Conn }); ok {
				raw = w.NetConn()
			}
			sc, _ := raw.(*net.TCPConn).SyscallConn()
			sc.Control(func(fd uintptr) { keepAlive = append(keepAlive, soKeepAlive(t, fd)) })
		}
		return c, err
	}
	fetch := func() {
		for range 3 {
			if _, err := h.Do(context.Background(), httpapi.Request{Path: "/x"}); err != nil {
				t.Fatal(err)
			}
		}
		h.CloseIdle()
	}
	fetch()
	if !rad.Awake(time.Second) {
		t.Error("the radio did not hear of the fetch")
	}
	fetch()
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 2 {
		t.Errorf("%d connections for two fetches of three requests, want 2", len(conns))
	}
	want := []bool{false, false, false, true, true, true}
	for i := range want {
		if resumed[i] != want[i] {
			t.Fatalf("resumed per request %v, want %v: the second fetch must resume the session", resumed, want)
		}
	}
	if len(keepAlive) != 2 {
		t.Errorf("%d dials seen, want 2", len(keepAlive))
	}
	for i, on := range keepAlive {
		if on {
			t.Errorf("connection %d has TCP keep-alive on", i)
		}
	}
}

// An idle connection nobody closes goes by itself after IdleTimeout.
func TestIdleConnectionCloses(t *testing.T) {
	var mu sync.Mutex
	closed := 0
	platform := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	platform.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			mu.Lock()
			closed++
			mu.Unlock()
		}
	}
	platform.Start()
	defer platform.Close()
	h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: platform.URL, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Do(context.Background(), httpapi.Request{Path: "/x"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, httpapi.IdleTimeout+5*time.Second, "the idle connection to close", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return closed == 1
	})
}
