package pttsim_test

import "testing"

// The shipped broker carries emergency alerts: a device publishes its
// own and reads its own acknowledgements; it can neither acknowledge its
// own alert (which would drop it from its disk unread), nor raise one as
// another device, nor read another's acknowledgements; the platform
// reads every alert and acknowledges.
func TestShippedACLCarriesEmergencies(t *testing.T) {
	l := newACLLab(t, "mosquitto.conf", map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"})
	plat := l.connect("platform", "ptt/dev/+/emergency")
	l.connect("dev-2", "ptt/dev/dev-2/emergency/ctl")
	dev := l.connect("dev-1", "ptt/dev/dev-1/emergency/ctl", "ptt/dev/dev-2/emergency/ctl", "ptt/dev/+/emergency")
	l.pub(dev, "ptt/dev/dev-1/emergency", "alert", false)
	l.pub(dev, "ptt/dev/dev-2/emergency", "alert as dev-2", false)
	l.pub(dev, "ptt/dev/dev-1/emergency/ctl", "self ack", false)
	l.pub(plat, "ptt/dev/dev-1/emergency/ctl", "ack", false)
	l.pub(plat, "ptt/dev/dev-2/emergency/ctl", "dev-2's ack", false)
	l.pub(plat, "ptt/dev/dev-1/emergency/ctl", "marker", false)
	l.expect("platform ptt/dev/dev-1/emergency alert", "dev-1 ptt/dev/dev-1/emergency/ctl ack",
		"dev-2 ptt/dev/dev-2/emergency/ctl dev-2's ack", "dev-1 ptt/dev/dev-1/emergency/ctl marker")
}

// Every device reads the platform's retained capabilities, and none can
// write them (a device that could would make its fleet send track
// versions the platform cannot read). The dynamic security variant:
// TestDynsecCarriesPlatformCaps.
func TestShippedACLCarriesPlatformCaps(t *testing.T) {
	l := newACLLab(t, "mosquitto.conf", map[string]string{"platform": "platform-secret", "dev-1": "secret-1", "dev-2": "secret-2"})
	plat := l.connect("platform")
	dev := l.connect("dev-1")
	l.pub(dev, "ptt/platform/caps", "forged", true)
	l.pub(plat, "ptt/platform/caps", "caps", true)
	l.connect("dev-2", "ptt/platform/caps")
	l.pub(dev, "ptt/platform/caps", "forged again", false)
	l.expect("dev-2 ptt/platform/caps caps")
}
