package agent

import (
	"log/slog"
	"testing"
)

// The voice copy is offered while the platform's last capabilities
// message says so; a cleared or undecodable one withdraws it.
func TestVoiceCopyOffer(t *testing.T) {
	o := &voiceCopyOffer{log: slog.New(slog.DiscardHandler)}
	for _, step := range []struct {
		payload string
		want    bool
	}{
		{`{"v":1,"track_versions":[1,2]}`, false},
		{`{"v":1,"track_versions":[1,2],"voice_copy":true}`, true},
		{`{"v":2,"voice_copy":true}`, false},
		{`{"v":1,"track_versions":[1],"voice_copy":true}`, true},
		{`not json`, false},
		{`{"v":1,"track_versions":[1],"voice_copy":true}`, true},
		{``, false},
	} {
		o.onCaps("ptt/platform/caps", []byte(step.payload))
		if got := o.offered(); got != step.want {
			t.Errorf("after %q: offered %v, want %v", step.payload, got, step.want)
		}
	}
}
