package config

import (
	"fmt"
	"testing"
)

// The family's commands, with what the file replaces.
func TestGPSModemCommands(t *testing.T) {
	m := GPSModem{Type: "simcom"}
	c := m.Commands()
	if c.Query != "AT+CGPS?" || c.QueryOn != "+CGPS: 1" || fmt.Sprint(c.Enable) != "[AT+CGPS=1,1]" || fmt.Sprint(c.Disable) != "[AT+CGPS=0]" {
		t.Errorf("simcom: %+v", c)
	}
	m = GPSModem{Type: "quectel", Enable: []string{`AT+QGPSCFG="outport","uartnmea"`, "AT+QGPS=1"}, Disable: []string{}}
	c = m.Commands()
	if len(c.Enable) != 2 || len(c.Disable) != 0 || len(c.Already) != 4 {
		t.Errorf("quectel with replacements: %+v", c)
	}
	m = GPSModem{Type: "custom", Enable: []string{"AT$GPSP=1"}, Query: "AT$GPSP?", QueryOn: "$GPSP: 1"}
	if c := m.Commands(); fmt.Sprint(c.Enable) != "[AT$GPSP=1]" || c.Disable != nil || c.Query != "AT$GPSP?" || c.QueryOn != "$GPSP: 1" {
		t.Errorf("custom: %+v", c)
	}
}
