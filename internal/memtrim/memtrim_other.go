//go:build !linux

package memtrim

import "errors"

// Page is Linux only.
func Page() (Result, error) { return Result{}, errors.New("memtrim: not supported on this system") }
