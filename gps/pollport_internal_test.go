package gps

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/pttagent/pttagent/gps/gpssim"
)

// The receiver's port is read through the poller: if an upgrade of
// go.bug.st/serial renamed the descriptor's field, the agent would fall
// back to the library's Read and wake the CPU several times as often.
// Reads, the silence deadline and closing all work through it.
func TestSerialPortIsPolled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gps0")
	dev, err := gpssim.NewDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	port, err := serial.Open(path, &serial.Mode{BaudRate: 9600})
	if err != nil {
		t.Fatal(err)
	}
	f := pollPort(port, path)
	if f == nil {
		t.Fatal("go.bug.st/serial's port gave no descriptor for the poller (its unexported field \"handle\" changed?)")
	}
	l := &serialLink{port: port, file: f}
	defer l.closePort()
	r := &portReader{port: port, file: f, silence: 100 * time.Millisecond, before: func() {}, bytes: new(atomic.Uint64)}
	if _, err := dev.Write([]byte("$GPGGA\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "$GPGGA\r\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	// The hot path: a read through the poller, deadline set, allocates
	// nothing.
	if _, err := dev.Write(make([]byte, 8*1000)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	small := make([]byte, 8)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(small); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("%.1f allocations per read", a)
	}
	if err := port.ResetInputBuffer(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := r.Read(buf); err == nil || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("silence: err %v after %v", err, time.Since(start))
	}
	r.silence = 10 * time.Second
	done := make(chan error, 1)
	go func() { _, err := r.Read(buf); done <- err }()
	time.Sleep(20 * time.Millisecond)
	l.closePort()
	select {
	case err := <-done:
		if err == nil {
			t.Error("read after close: no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("closing the port did not end a blocked read")
	}
}
