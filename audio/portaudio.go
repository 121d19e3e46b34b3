package audio

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gordonklaus/portaudio"
)

// PortAudio is initialised once per process and terminated when the last
// stream closes; Pa_Initialize/Pa_Terminate are reference counted, but
// device enumeration is only refreshed at the first one, so we keep one.
var (
	paMu    sync.Mutex
	paUsers int
	// openMu serialises opening, starting, stopping and closing streams:
	// PortAudio's calls are not thread-safe (the JACK host API fails a
	// Pa_StartStream made while another stream starts), the binding's
	// device list is a package-level cache that Devices rebuilds without a
	// lock, and the speaker and the microphone start from different
	// goroutines when the floor is granted.
	openMu sync.Mutex
)

func paAcquire() error {
	paMu.Lock()
	defer paMu.Unlock()
	if paUsers == 0 {
		if err := quietly(portaudio.Initialize); err != nil {
			return fmt.Errorf("initialise PortAudio: %w", err)
		}
	}
	paUsers++
	return nil
}

func paRelease() {
	paMu.Lock()
	defer paMu.Unlock()
	paUsers--
	if paUsers == 0 {
		portaudio.Terminate()
	}
}

// DeviceError carries the operation and the device of an audio failure.
type DeviceError struct {
	Op     string
	Device string
	Err    error
}

func (e *DeviceError) Error() string {
	dev := e.Device
	if dev == "" {
		dev = "default device"
	}
	return e.Op + " " + dev + ": " + e.Err.Error()
}
func (e *DeviceError) Unwrap() error { return e.Err }

// ErrNoDevice is wrapped when a configured device is not there.
var ErrNoDevice = errors.New("no such audio device")

// findDevice picks the device called name ("" = the default), first by
// exact name, then by a unique case-insensitive substring (ALSA names like
// "USB Audio Device: - (hw:1,0)").
func findDevice(name string, input bool) (*portaudio.DeviceInfo, error) {
	if name == "" {
		if input {
			return portaudio.DefaultInputDevice()
		}
		return portaudio.DefaultOutputDevice()
	}
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	var names, partial []string
	var match *portaudio.DeviceInfo
	for _, d := range devs {
		if (input && d.MaxInputChannels == 0) || (!input && d.MaxOutputChannels == 0) {
			continue
		}
		names = append(names, fmt.Sprintf("%q", d.Name))
		if d.Name == name {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			partial = append(partial, d.Name)
			match = d
		}
	}
	if len(partial) == 1 {
		return match, nil
	}
	if len(partial) > 1 {
		return nil, fmt.Errorf("%q matches several devices (%s): write the whole name", name, strings.Join(partial, ", "))
	}
	if len(names) == 0 {
		names = []string{"none"}
	}
	return nil, fmt.Errorf("%w %q; devices: %s", ErrNoDevice, name, strings.Join(names, ", "))
}

// PACapture is a PortAudio microphone: 16 kHz, mono, 16-bit, one 20 ms
// frame per buffer, blocking reads.
type PACapture struct {
	name   string
	stream *portaudio.Stream
	buf    []int16
	stats  deviceCounters
}

var _ Capturer = (*PACapture)(nil)

// OpenCapture opens the input device called name ("" = default).
func OpenCapture(name string) (*PACapture, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if err := paAcquire(); err != nil {
		return nil, &DeviceError{Op: "open capture", Device: name, Err: err}
	}
	dev, err := findDevice(name, true)
	if err != nil {
		paRelease()
		return nil, &DeviceError{Op: "open capture", Device: name, Err: err}
	}
	c := &PACapture{name: dev.Name, buf: make([]int16, FrameSamples)}
	p := portaudio.StreamParameters{
		Input:           portaudio.StreamDeviceParameters{Device: dev, Channels: 1, Latency: dev.DefaultLowInputLatency},
		SampleRate:      SampleRate,
		FramesPerBuffer: FrameSamples,
	}
	if c.stream, err = portaudio.OpenStream(p, &c.buf); err != nil {
		paRelease()
		return nil, &DeviceError{Op: "open capture", Device: dev.Name, Err: err}
	}
	return c, nil
}

// Name is the device's name as PortAudio lists it.
func (c *PACapture) Name() string { return c.name }

func (c *PACapture) Start() error {
	openMu.Lock()
	defer openMu.Unlock()
	if err := c.stream.Start(); err != nil {
		return &DeviceError{Op: "start capture", Device: c.name, Err: err}
	}
	return nil
}

func (c *PACapture) ReadFrame(pcm []int16) error {
	err := c.stream.Read()
	if err != nil && !errors.Is(err, portaudio.InputOverflowed) {
		return &DeviceError{Op: "capture", Device: c.name, Err: err}
	}
	if err != nil {
		c.stats.overflows.Add(1)
	}
	c.stats.frames.Add(1)
	copy(pcm, c.buf)
	return nil
}

func (c *PACapture) Stop() error {
	openMu.Lock()
	defer openMu.Unlock()
	if err := c.stream.Stop(); err != nil {
		return &DeviceError{Op: "stop capture", Device: c.name, Err: err}
	}
	return nil
}

func (c *PACapture) Close() error {
	openMu.Lock()
	defer openMu.Unlock()
	err := c.stream.Close()
	paRelease()
	if err != nil {
		return &DeviceError{Op: "close capture", Device: c.name, Err: err}
	}
	return nil
}

func (c *PACapture) Stats() DeviceStats { return c.stats.snapshot() }

// PAPlayback is a PortAudio speaker with the same format.
type PAPlayback struct {
	name   string
	stream *portaudio.Stream
	buf    []int16
	stats  deviceCounters
}

var _ Player = (*PAPlayback)(nil)

// OpenPlayback opens the output device called name ("" = default).
func OpenPlayback(name string) (*PAPlayback, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if err := paAcquire(); err != nil {
		return nil, &DeviceError{Op: "open playback", Device: name, Err: err}
	}
	dev, err := findDevice(name, false)
	if err != nil {
		paRelease()
		return nil, &DeviceError{Op: "open playback", Device: name, Err: err}
	}
	pl := &PAPlayback{name: dev.Name, buf: make([]int16, FrameSamples)}
	p := portaudio.StreamParameters{
		Output:          portaudio.StreamDeviceParameters{Device: dev, Channels: 1, Latency: dev.DefaultLowOutputLatency},
		SampleRate:      SampleRate,
		FramesPerBuffer: FrameSamples,
	}
	if pl.stream, err = portaudio.OpenStream(p, &pl.buf); err != nil {
		paRelease()
		return nil, &DeviceError{Op: "open playback", Device: dev.Name, Err: err}
	}
	return pl, nil
}

func (p *PAPlayback) Name() string { return p.name }

// Latency is how long a frame written now waits in the device's buffers
// before it is heard, as PortAudio reports it.
func (p *PAPlayback) Latency() time.Duration {
	if info := p.stream.Info(); info != nil {
		return info.OutputLatency
	}
	return 0
}

func (p *PAPlayback) Start() error {
	openMu.Lock()
	defer openMu.Unlock()
	if err := p.stream.Start(); err != nil {
		return &DeviceError{Op: "start playback", Device: p.name, Err: err}
	}
	return nil
}

func (p *PAPlayback) WriteFrame(pcm []int16) error {
	copy(p.buf, pcm)
	err := p.stream.Write()
	if err != nil && !errors.Is(err, portaudio.OutputUnderflowed) {
		return &DeviceError{Op: "play", Device: p.name, Err: err}
	}
	if err != nil {
		p.stats.underflows.Add(1)
	}
	p.stats.frames.Add(1)
	return nil
}

func (p *PAPlayback) Stop() error {
	openMu.Lock()
	defer openMu.Unlock()
	if err := p.stream.Stop(); err != nil {
		return &DeviceError{Op: "stop playback", Device: p.name, Err: err}
	}
	return nil
}

func (p *PAPlayback) Close() error {
	openMu.Lock()
	defer openMu.Unlock()
	err := p.stream.Close()
	paRelease()
	if err != nil {
		return &DeviceError{Op: "close playback", Device: p.name, Err: err}
	}
	return nil
}

func (p *PAPlayback) Stats() DeviceStats { return p.stats.snapshot() }
