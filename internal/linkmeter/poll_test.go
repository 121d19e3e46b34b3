package linkmeter

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pttagent/pttagent/internal/pttsim/simtest"
	"github.com/pttagent/pttagent/platform"
	"github.com/pttagent/pttagent/uplink/httpapi"
	"github.com/pttagent/pttagent/uplink/httpapi/corp"
)

// pollPolicy is a way of holding the platform's HTTP connection between
// polls.
type pollPolicy struct {
	name string
	// tune changes the agent's transport (httpapi.NewHTTP's) before use.
	tune func(tr *http.Transport)
	// closeAfter closes idle connections after each fetch (what the agent
	// does).
	closeAfter bool
}

var pollPolicies = []pollPolicy{
	{name: "new-handshake", closeAfter: true, tune: func(tr *http.Transport) {
		tr.TLSClientConfig.ClientSessionCache = nil // what a poll after Go's 90 s idle close cost
	}},
	{name: "close-resume", closeAfter: true, tune: func(*http.Transport) {}}, // the agent
	{name: "kept-open", tune: func(tr *http.Transport) { tr.IdleConnTimeout = 0 }},
}

// BenchmarkPollConnection compares what a platform poll costs on the link
// with the connection closed after each fetch — with and without TLS
// session resumption — and kept open from one poll to the next: the
// agent's corp client fetching from pttsim over https through a metered
// link, one warm-up fetch (login, everything read) and then polls 30 s
// apart, each one measured from its start to the next (the keep-alive
// probes of a connection kept open fall in between):
//
//	go test -run '^$' -bench PollConnection -benchtime 1x ./internal/linkmeter
func BenchmarkPollConnection(b *testing.B) {
	const polls, every = 4, 30 * time.Second
	type result struct {
		bytes, packets int64
		wakeUps        int
		conns          int
	}
	for range b.N {
		results := make([]result, len(pollPolicies))
		var wg sync.WaitGroup
		for i, pol := range pollPolicies {
			m := &Meter{}
			ps := startPlatform(b, m, false, nil)
			ps.addDevice(b, "dev-poll", "device-pw", 1)
			h, err := httpapi.NewHTTP(httpapi.Options{BaseURL: ps.httpsURL, CAFile: ps.ca.CertFile, Timeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			tr := h.Client.Transport.(*http.Transport)
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := ps.ns.DialContext(ctx, network, addr)
				if err == nil {
					// As the agent dials: no TCP keep-alive.
					err = c.(*net.TCPConn).SetKeepAlive(false)
				}
				return c, err
			}
			pol.tune(tr)
			cl := &corp.Client{HTTP: h, Account: "dev-poll", Password: simtest.MD5("device-pw"), Logger: slog.New(slog.DiscardHandler)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var model *platform.Model
				fetch := func() {
					next, err := cl.Fetch(context.Background(), model)
					if err != nil {
						b.Error(err)
						return
					}
					model = next
					if pol.closeAfter {
						h.CloseIdle()
					}
				}
				fetch()
				time.Sleep(every)
				from := time.Now()
				for range polls {
					fetch()
					time.Sleep(every)
				}
				rep := Analyze(m.Packets(), from, time.Now(), ps.svc)
				t := rep.Service("https")
				results[i] = result{bytes: t.Bytes / polls, packets: t.Packets / polls, wakeUps: len(rep.WakeUps), conns: t.Connections}
				fmt.Printf("%s:\n%s", pol.name, rep)
			}()
		}
		wg.Wait()
		var tab strings.Builder
		fmt.Fprintf(&tab, "\n| Connection between polls | bytes/poll | packets/poll | wake-ups in %d polls | connections |\n|---|---|---|---|---|\n", polls)
		for i, pol := range pollPolicies {
			r := results[i]
			fmt.Fprintf(&tab, "| %s | %d | %d | %d | %d |\n", pol.name, r.bytes, r.packets, r.wakeUps, r.conns)
			b.ReportMetric(float64(r.bytes), pol.name+"-B/poll")
			b.ReportMetric(float64(r.wakeUps)/polls, pol.name+"-wakeups/poll")
		}
		fmt.Println(tab.String())
	}
}
