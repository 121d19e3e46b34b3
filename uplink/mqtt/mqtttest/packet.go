package mqtttest

import (
	"bufio"
	"errors"
	"io"
)

// ReadPacket reads one MQTT control packet whole, for tests that play a
// broker or sit between one and a client: the fixed header's first byte,
// the remaining length (1–4 bytes) and the body.
func ReadPacket(r *bufio.Reader) ([]byte, error) {
	h, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	pkt := []byte{h}
	n, shift := 0, 0
	for i := 0; ; i++ {
		if i == 4 {
			return nil, errors.New("mqtt: remaining length longer than 4 bytes")
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, err
		}
		pkt = append(pkt, b)
		n |= int(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return append(pkt, body...), nil
}
