// Command nmeagen synthesises the NMEA logs in gps/testdata.
//
// We have no receiver to record from, so the logs are made by simulating a
// vehicle and a sky, and writing each cycle (1 Hz; 10 Hz for the fast
// receiver) the way a given receiver family documents its output (sentence
// order, talkers, field precision, empty fields without a fix). The output is deterministic: run
//
//	go run ./gps/internal/nmeagen -out gps/testdata
//
// and git diff shows nothing unless this program changed.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

func main() {
	out := flag.String("out", "gps/testdata", "directory to write the logs into")
	flag.Parse()
	for _, l := range logs() {
		path := filepath.Join(*out, l.name)
		if err := os.WriteFile(path, l.data, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d bytes\n", path, len(l.data))
	}
}

type logFile struct {
	name string
	data []byte
}

// logs returns every log, in the order of gps/testdata/README.md.
func logs() []logFile {
	drive := simulate(driveScript, time.Date(2024, 11, 19, 6, 15, 0, 0, time.UTC), 48.137154, 11.576124, 7)
	ublox := ubloxM8(drive)
	return []logFile{
		{"ublox-m8-drive.nmea", ublox},
		{"quectel-l76-bd.nmea", quectelL76(simulate(cityScript, time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC), 31.230416, 121.473701, 11))},
		{"quectel-lc29h-gns.nmea", quectelLC29H(simulate(cityScript, time.Date(2025, 6, 21, 14, 0, 0, 500e6, time.UTC), 22.543096, 114.057865, 13))},
		{"sirf-gp.nmea", sirf(simulate(walkScript, time.Date(2023, 8, 2, 17, 45, 10, 0, time.UTC), 51.507351, -0.127758, 17))},
		{"coldstart.nmea", ubloxM8(coldStart(time.Date(2024, 11, 19, 5, 58, 0, 0, time.UTC), -33.868820, 151.209290, 19))},
		{"midnight.nmea", midnight(simulate(midnightScript, time.Date(2024, 12, 31, 23, 59, 30, 0, time.UTC), 40.712776, -74.005974, 23))},
		{"hostile.nmea", hostile(ublox, 29)},
		{"ublox-m8-10hz.nmea", ubloxM8Fast(simulateAt(fastScript, time.Date(2025, 9, 8, 7, 40, 0, 0, time.UTC), 52.520008, 13.404954, 31, 10), 10)},
	}
}
