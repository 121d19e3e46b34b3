package linkmeter

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	budgetWindow = flag.Duration("budget.window", 20*time.Minute, "BenchmarkBudget: how long each profile is measured")
	budgetOnly   = flag.String("budget.profiles", "", "BenchmarkBudget: measure only these profiles (comma-separated names)")
)

// The smoke profile of the budget, for CI: a parked handset with the
// defaults, two minutes of real time. Its bounds are loose (a 2-minute
// window holds a wake-up or two by chance), but the regressions that
// cost most are exact: a TCP keep-alive probe on any connection, a new
// TLS connection for a poll, a radio that never sleeps.
func TestBudgetSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("two minutes of real time")
	}
	r := startRig(t, profile{name: "smoke", track: 1})
	rep, _ := r.measure(t, 20*time.Second, 2*time.Minute)
	t.Logf("parked, 60 s, defaults:\n%s", rep)
	if n := rep.Total.Probes; n > 0 {
		t.Errorf("%d TCP keep-alive probes: each wakes the radio for nothing the protocols above do not already learn", n)
	}
	if n := rep.Service("https").Connections; n > 1 {
		t.Errorf("%d TLS connections to the platform in 2 minutes: polls must be rare and resume one session", n)
	}
	// The goal is 15 an hour; at most 3 in two minutes (90 an hour)
	// allows for a track flush, a poll and a media keep-alive falling
	// apart by chance, and fails on a 30 s keep-alive of any kind.
	if n := len(rep.WakeUps); n > 3 {
		t.Errorf("%d radio wake-ups in %v (%.0f/h): %v", n, rep.Window().Round(time.Second), rep.WakeUpsPerHour(), rep.Causes())
	}
	if kb := rep.PerDay(rep.Total.Bytes) / 1000; kb > 1500 {
		t.Errorf("%.0f kB/day, goal 400", kb)
	}
}

// BenchmarkBudget measures the data and battery budget of issue 14 with
// the defaults a technician gets, all profiles at once (each on a link of
// its own), each for -budget.window of real time:
//
//	go test -run '^$' -bench Budget -benchtime 1x -timeout 60m ./internal/linkmeter -args -budget.window 20m
//
// LINKMETER_AGENT=path measures another build of the agent;
// LINKMETER_LOG=dir writes every packet to dir/PROFILE.packets.
func BenchmarkBudget(b *testing.B) {
	profiles := []profile{
		{name: "parked60", track: 1},
		{name: "moving60", track: 1, moving: true},
		{name: "moving10", track: 10, moving: true},
		// The defaults above send CBOR (version 2): pttsim says it reads
		// it. The same to a platform that reads JSON only.
		{name: "moving10json", track: 10, moving: true, platformReads: []int{1}},
		{name: "parked60json", track: 1, platformReads: []int{1}},
		// Polls every 10 minutes instead of 2 hours: they ride on the
		// track messages' wake-ups.
		{name: "parked60poll10m", track: 1, platformYAML: "  poll_with_events: 10m"},
	}
	if *budgetOnly != "" {
		var only []profile
		for _, p := range profiles {
			if strings.Contains(","+*budgetOnly+",", ","+p.name+",") {
				only = append(only, p)
			}
		}
		profiles = only
	}
	type result struct {
		rep    Report
		points int
	}
	for range b.N {
		results := make([]result, len(profiles))
		var wg sync.WaitGroup
		for i, p := range profiles {
			r := startRig(b, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i].rep, results[i].points = r.measure(b, 30*time.Second, *budgetWindow)
			}()
		}
		wg.Wait()
		var tab strings.Builder
		fmt.Fprintf(&tab, "\n| Profile | bytes/day | wake-ups/hour | radio high | MQTT B/point | points |\n|---|---|---|---|---|---|\n")
		for i, p := range profiles {
			rep, n := results[i].rep, results[i].points
			perPoint := 0.0
			if n > 0 {
				perPoint = float64(rep.Service("mqtt").Bytes) / float64(n)
			}
			fmt.Fprintf(&tab, "| %s | %.0f kB | %.1f | %.1f %% | %.0f | %d |\n", p.name, rep.PerDay(rep.Total.Bytes)/1000,
				rep.WakeUpsPerHour(), 100*rep.HighShare(), perPoint, n)
			fmt.Printf("%s:\n%s", p.name, rep) // b.Log cuts a benchmark's log to a few lines
			b.ReportMetric(rep.PerDay(rep.Total.Bytes)/1000, p.name+"-kB/day")
			b.ReportMetric(rep.WakeUpsPerHour(), p.name+"-wakeups/h")
			b.ReportMetric(100*rep.HighShare(), p.name+"-high%")
			b.ReportMetric(perPoint, p.name+"-B/point")
		}
		fmt.Println(tab.String())
	}
}
