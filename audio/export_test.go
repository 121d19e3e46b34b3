package audio

// SpeedUp runs pcm through the Receiver's speed-up (libsonic) at speed,
// for the quality tests.
func SpeedUp(pcm []int16, speed float32) ([]int16, error) {
	sp, err := newSpeedup()
	if err != nil {
		return nil, err
	}
	sp.setSpeed(speed)
	var out []int16
	buf := make([]int16, 4*FrameSamples)
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		if err := sp.write(pcm[i : i+FrameSamples]); err != nil {
			return nil, err
		}
		for n := sp.read(buf); n > 0; n = sp.read(buf) {
			out = append(out, buf[:n]...)
		}
	}
	if err := sp.flush(); err != nil {
		return nil, err
	}
	for n := sp.read(buf); n > 0; n = sp.read(buf) {
		out = append(out, buf[:n]...)
	}
	return out, nil
}
