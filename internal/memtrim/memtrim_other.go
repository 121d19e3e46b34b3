//go:build !linux

package memtrim

import "errors"

// Unmap is Linux only.
func Unmap() (Result, error) { return Result{}, errors.New("memtrim: not supported on this system") }
