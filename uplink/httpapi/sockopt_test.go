package httpapi_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

func soKeepAlive(t *testing.T, fd uintptr) bool {
	v, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	if err != nil {
		t.Error(err)
	}
	return v != 0
}
