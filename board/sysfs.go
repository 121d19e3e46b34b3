package board

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SysfsLED is an LED of the kernel's LED class: {root}/class/leds/{name}.
// Root is normally /sys; tests point it at a fixture tree.
type SysfsLED struct {
	dir string
	max int
}

var _ LED = (*SysfsLED)(nil)

// OpenLED finds the LED name (e.g. "green:status") below root.
func OpenLED(root, name string) (*SysfsLED, error) {
	dir := filepath.Join(root, "class", "leds", name)
	b, err := os.ReadFile(filepath.Join(dir, "max_brightness"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%w (LEDs there: %s)", ErrNoDevice, strings.Join(listDir(filepath.Join(root, "class", "leds")), ", "))
		}
		return nil, &DeviceError{Op: "open LED", Device: dir, Err: err}
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || max <= 0 {
		return nil, &DeviceError{Op: "open LED", Device: dir, Err: fmt.Errorf("max_brightness %q", strings.TrimSpace(string(b)))}
	}
	return &SysfsLED{dir: dir, max: max}, nil
}

// Set implements LED. Writing the trigger "none" first stops a blink.
func (l *SysfsLED) Set(on bool) error {
	if err := l.write("trigger", "none"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	v := "0"
	if on {
		v = strconv.Itoa(l.max)
	}
	return l.write("brightness", v)
}

// Blink implements LED with the kernel's timer trigger, so the LED keeps
// flashing without the agent waking up.
func (l *SysfsLED) Blink(on, off time.Duration) error {
	if err := l.write("trigger", "timer"); err != nil {
		return err
	}
	// The timer trigger creates delay_on/delay_off when it is selected.
	if err := l.write("delay_on", strconv.FormatInt(on.Milliseconds(), 10)); err != nil {
		return err
	}
	return l.write("delay_off", strconv.FormatInt(off.Milliseconds(), 10))
}

func (l *SysfsLED) write(file, v string) error {
	p := filepath.Join(l.dir, file)
	// O_WRONLY without O_CREATE: a missing attribute is an error, not a new file.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return &DeviceError{Op: "write LED", Device: p, Err: err}
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &DeviceError{Op: "write LED", Device: p, Err: err}
	}
	return nil
}

// SysfsBattery is a power supply of the kernel's power_supply class:
// {root}/class/power_supply/{name}.
type SysfsBattery struct {
	dir string
}

var _ Battery = (*SysfsBattery)(nil)

// OpenBattery finds the supply name, or with name "" the first supply of
// type Battery.
func OpenBattery(root, name string) (*SysfsBattery, error) {
	base := filepath.Join(root, "class", "power_supply")
	if name == "" {
		for _, n := range listDir(base) {
			if readTrim(filepath.Join(base, n, "type")) == "Battery" {
				name = n
				break
			}
		}
		if name == "" {
			return nil, &DeviceError{Op: "find battery", Device: base, Err: fmt.Errorf("%w: no supply of type Battery (supplies: %s)", ErrNoDevice, strings.Join(listDir(base), ", "))}
		}
	}
	dir := filepath.Join(base, name)
	if _, err := os.Stat(dir); err != nil {
		return nil, &DeviceError{Op: "open battery", Device: dir, Err: fmt.Errorf("%w (supplies: %s)", ErrNoDevice, strings.Join(listDir(base), ", "))}
	}
	return &SysfsBattery{dir: dir}, nil
}

// Read implements Battery. Without a capacity file the coarse
// capacity_level is mapped to a percentage; without either, Percent is -1.
func (b *SysfsBattery) Read() (BatteryStatus, error) {
	st := BatteryStatus{Percent: -1, Status: readTrim(filepath.Join(b.dir, "status"))}
	if st.Status == "" {
		if _, err := os.Stat(b.dir); err != nil {
			return st, &DeviceError{Op: "read battery", Device: b.dir, Err: err}
		}
		st.Status = "Unknown"
	}
	st.Charging = st.Status == "Charging" || st.Status == "Full"
	if s := readTrim(filepath.Join(b.dir, "capacity")); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 100 {
			return st, &DeviceError{Op: "read battery", Device: b.dir, Err: fmt.Errorf("capacity %q is not 0–100", s)}
		}
		st.Percent = p
		return st, nil
	}
	switch readTrim(filepath.Join(b.dir, "capacity_level")) {
	case "Critical":
		st.Percent = 5
	case "Low":
		st.Percent = 15
	case "Normal":
		st.Percent = 50
	case "High":
		st.Percent = 85
	case "Full":
		st.Percent = 100
	}
	return st, nil
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func listDir(dir string) []string {
	ents, _ := os.ReadDir(dir)
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}
