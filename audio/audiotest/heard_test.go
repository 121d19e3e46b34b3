package audiotest

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestHeardIdentityAndShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := make([]int16, 16000*3)
	for i := range s {
		s[i] = int16(8000 * rng.NormFloat64() * (0.2 + math.Abs(math.Sin(float64(i)*0.0007))))
	}
	shifted := append(make([]int16, 1234), s...)
	for _, got := range [][]int16{s, shifted} {
		h := Heard(s, got, 3200, 8000)
		if f := Fraction(h, 0.99); f < 1 {
			t.Errorf("fraction %.2f: %v", f, h)
		}
	}
	// Noise instead of the signal: nothing heard.
	noise := make([]int16, len(s))
	for i := range noise {
		noise[i] = int16(8000 * rng.NormFloat64())
	}
	if f := Fraction(Heard(s, noise, 3200, 8000), 0.7); f != 0 {
		t.Errorf("noise heard as the signal: %.2f", f)
	}
}
