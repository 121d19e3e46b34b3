package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed logs must be what this program writes, so that a change to
// the generator shows up as a change to the logs (and to the gpsd goldens,
// which gps/testdata/gpsd-golden.sh then regenerates).
func TestLogsAreUpToDate(t *testing.T) {
	for _, l := range logs() {
		got, err := os.ReadFile(filepath.Join("..", "..", "testdata", l.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, l.data) {
			t.Errorf("testdata/%s differs from the generator's output: run go run ./gps/internal/nmeagen -out gps/testdata", l.name)
		}
	}
}
