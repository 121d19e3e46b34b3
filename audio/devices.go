package audio

import (
	"github.com/gordonklaus/portaudio"
)

// Device is a sound device as PortAudio lists it, for a technician
// choosing audio.capture_device and audio.playback_device.
type Device struct {
	Name        string
	HostAPI     string
	Inputs      int // channels; 0: not a microphone
	Outputs     int // channels; 0: not a speaker
	DefaultRate float64
	// DefaultInput and DefaultOutput: the system's default device, what
	// an empty audio.capture_device / playback_device opens.
	DefaultInput, DefaultOutput bool
}

// Devices lists every PortAudio device.
func Devices() ([]Device, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if err := paAcquire(); err != nil {
		return nil, err
	}
	defer paRelease()
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	in, _ := portaudio.DefaultInputDevice()
	out, _ := portaudio.DefaultOutputDevice()
	list := make([]Device, 0, len(devs))
	for _, d := range devs {
		dev := Device{Name: d.Name, Inputs: d.MaxInputChannels, Outputs: d.MaxOutputChannels,
			DefaultRate: d.DefaultSampleRate, DefaultInput: in != nil && d.Index == in.Index, DefaultOutput: out != nil && d.Index == out.Index}
		if d.HostApi != nil {
			dev.HostAPI = d.HostApi.Name
		}
		list = append(list, dev)
	}
	return list, nil
}

// Pick is the device OpenCapture (input) or OpenPlayback would open for
// name ("" = the default), by the same rule, or why there is none.
func Pick(name string, input bool) (Device, error) {
	openMu.Lock()
	defer openMu.Unlock()
	if err := paAcquire(); err != nil {
		return Device{}, err
	}
	defer paRelease()
	d, err := findDevice(name, input)
	if err != nil {
		return Device{}, err
	}
	dev := Device{Name: d.Name, Inputs: d.MaxInputChannels, Outputs: d.MaxOutputChannels, DefaultRate: d.DefaultSampleRate}
	if d.HostApi != nil {
		dev.HostAPI = d.HostApi.Name
	}
	return dev, nil
}
