package brokers

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

var monitorClient = &http.Client{Timeout: 2 * time.Second}

// healthz asks the node's monitoring port whether it and its JetStream
// are ready (200) or not (503, with the reason).
func (n *Node) healthz() error {
	if n.Pid() == 0 {
		return ErrNotRunning
	}
	resp, err := monitorClient.Get("http://127.0.0.1:" + strconv.Itoa(n.MonitorPort) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz %s: %s", resp.Status, body)
	}
	return nil
}
