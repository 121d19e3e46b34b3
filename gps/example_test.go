package gps_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pttagent/pttagent/gps"
)

// A Scanner takes whatever comes down the line and hands out only good
// sentences; the rest is counted.
func ExampleScanner() {
	in := "\x00\xffnoise$GPGGA,123519,4807.0" + // cut by the next '$'
		"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n" +
		"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*00\r\n" // bad checksum
	sc := gps.NewScanner(strings.NewReader(in))
	for sc.Scan() {
		fmt.Printf("%s\n", sc.Bytes())
	}
	c := sc.Counters()
	for r := gps.Reason(0); r < gps.NumReasons; r++ {
		if c.Drops[r] > 0 {
			fmt.Println("dropped", r, c.Drops[r])
		}
	}
	// Output:
	// $GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47
	// dropped garbage 1
	// dropped cut 1
	// dropped checksum 1
}

// A Merger turns a reporting cycle's sentences into one fix. The first
// cycle ends when the next one starts; having seen that GLL ends a cycle,
// the Merger emits the second cycle on its GLL.
func ExampleMerger() {
	log := []string{
		"$GNRMC,092725.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*40",
		"$GNGGA,092725.00,4717.11437,N,00833.91522,E,1,08,1.01,499.6,M,48.0,M,,*4F",
		"$GNGLL,4717.11437,N,00833.91522,E,092725.00,A,A*7C",
		"$GNRMC,092726.00,A,4717.11440,N,00833.91530,E,0.010,77.52,091202,,,A*45",
		"$GNGGA,092726.00,4717.11440,N,00833.91530,E,1,08,1.01,499.7,M,48.0,M,,*4E",
		"$GNGLL,4717.11440,N,00833.91530,E,092726.00,A,A*7C",
	}
	var m gps.Merger
	for i, s := range log {
		if f, ok := m.Feed([]byte(s)); ok {
			fmt.Printf("after sentence %d: %v\n", i+1, f)
		}
	}
	// Output:
	// after sentence 4: 2002-12-09T09:27:25.000Z 3D 47.2852395 8.5652537 499.6m 0.00m/s 77.5° 8sats hdop 1.01 ±5.0m
	// after sentence 6: 2002-12-09T09:27:26.000Z 3D 47.2852400 8.5652550 499.7m 0.01m/s 77.5° 8sats hdop 1.01 ±5.0m
}

// The agent runs a Source under its errgroup and reads fixes from the
// channel; cancelling the context is the only way to stop it.
func ExampleSource() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &gps.Source{Device: "/dev/ttyACM0", Baud: 9600, Logger: slog.Default()}
	fixes := make(chan gps.Fix, 4)
	go src.Run(ctx, fixes)
	for f := range fixes {
		if f.Valid {
			fmt.Println(f.Lat, f.Lon)
		}
	}
}
