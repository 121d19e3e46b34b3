package brokers

import "testing"

// A cluster's ports are distinct: each node's client, route, MQTT and
// monitor ports, across the nodes.
func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(12)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: %d repeated or invalid", ports, p)
		}
		seen[p] = true
	}
}
