// Command cgocheck proves the cross toolchain links the C libraries the
// audio part uses (libopus, libopusfile, PortAudio) for the target
// architecture; systemd/deb/test builds it for arm64 and runs it under
// qemu-aarch64-static.
package main

/*
#cgo pkg-config: opus opusfile portaudio-2.0
#include <opus.h>
#include <opusfile.h>
#include <portaudio.h>
*/
import "C"

import "fmt"

func main() {
	fmt.Printf("opus %s; portaudio %s; opusfile linked: %v\n",
		C.GoString(C.opus_get_version_string()), C.GoString(C.Pa_GetVersionText()),
		C.op_test(nil, nil, 0) != 0)
}
