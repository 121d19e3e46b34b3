package pttsim

import (
	"fmt"
	"time"
)

// The console's feeds of the platform's other news: the devices'
// emergency alerts and the notices sent to them.
func init() {
	registerConsoleFeed("emergency", "Emergency alerts", emergencyItems)
	registerConsoleFeed("notices", "Notices", noticeItems)
}

// emergencyItems are the devices' alerts: active until cancelled, at the
// position the device sent with them.
func emergencyItems(s *Sim) []ConsoleItem {
	alerts := s.Emergencies()
	items := make([]ConsoleItem, 0, len(alerts))
	for _, a := range alerts {
		it := ConsoleItem{Time: a.Raised, Account: a.Account, From: a.Name, Title: "Emergency", Alert: true,
			Active: a.State == "active"}
		if a.GroupName != "" {
			it.Title += " in " + a.GroupName
		}
		switch {
		case a.State == "cancelled" && a.Cancelled != 0:
			it.Text = "cancelled at " + time.UnixMilli(a.Cancelled).Format("15:04:05")
		case a.Position == nil:
			it.Text = "no position"
		case a.FixAge > 0:
			it.Text = fmt.Sprintf("position %d s old", a.FixAge)
		}
		if p := a.Position; p != nil {
			lat, lon := p.X, p.Y
			it.Lat, it.Lon = &lat, &lon
		}
		items = append(items, it)
	}
	return items
}

func noticeItems(s *Sim) []ConsoleItem {
	notices := s.Notices()
	items := make([]ConsoleItem, 0, len(notices))
	for _, n := range notices {
		it := ConsoleItem{Time: n.Time * 1000, From: n.From.Name, Title: n.Title, Text: n.Content}
		if len(n.To) == 1 {
			it.Account = n.To[0]
		}
		if len(n.Accessory) > 0 {
			it.URL = n.Accessory[0].URL
		}
		items = append(items, it)
	}
	return items
}
