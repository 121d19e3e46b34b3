// Package gpstest holds the GPS helpers of the tests: the drive log the
// end-to-end tests play and a simulated receiver playing it (gps/gpssim)
// that stops with the test.
package gpstest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pttagent/pttagent/gps/gpssim"
)

// DriveLog is gps/testdata/ublox-m8-drive.nmea: a few minutes of a
// multi-GNSS receiver on a drive around Munich, the log the end-to-end
// tests and the demo play.
func DriveLog(t testing.TB) []byte {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(here), "..", "testdata", "ublox-m8-drive.nmea"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Simulate plugs a receiver in at path and plays the drive log into it,
// retimed to now and looped, speed times real time, until stop is called or
// the test ends (when the device is closed too).
func Simulate(t testing.TB, path string, speed float64) (dev *gpssim.Device, stop func()) {
	t.Helper()
	log := DriveLog(t)
	dev, err := gpssim.NewDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&gpssim.Player{Speed: speed, Loop: true, Retime: true}).Play(ctx, dev, log)
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(func() { stop(); dev.Close() })
	return dev, stop
}
