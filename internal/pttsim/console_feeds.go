package pttsim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// The console's feeds of features written beside it. Emergency alerts
// (the emergency key) and notices (wapi accept/event) were built on other
// branches at the same time as the console, so their feeds find
// (*Sim).Emergencies and (*Sim).Notices by name and read them through
// their JSON: a panel appears in a build that has the feature and is
// absent from one that has not, and neither change had to wait for the
// other. Once all are merged, direct calls can replace the lookups.
func init() {
	if hasList("Emergencies") {
		registerConsoleFeed("emergency", "Emergency alerts", emergencyItems)
	}
	if hasList("Notices") {
		registerConsoleFeed("notices", "Notices", noticeItems)
	}
}

// hasList reports whether *Sim has a method name() []T.
func hasList(name string) bool {
	m, ok := reflect.TypeFor[*Sim]().MethodByName(name)
	return ok && m.Type.NumIn() == 1 && m.Type.NumOut() == 1 && m.Type.Out(0).Kind() == reflect.Slice
}

// list calls s.name() and decodes its JSON into out.
func list(s *Sim, name string, out any) bool {
	b, err := json.Marshal(reflect.ValueOf(s).MethodByName(name).Call(nil)[0].Interface())
	return err == nil && json.Unmarshal(b, out) == nil
}

// emergencyItems are the devices' alerts (pttsim's Emergency, JSON as
// /wapi/emergency/list gives it): active until cancelled, at the
// position the device sent with it.
func emergencyItems(s *Sim) []ConsoleItem {
	var alerts []struct {
		Account   string `json:"account"`
		Name      string `json:"name"`
		GroupName string `json:"groupName"`
		Raised    int64  `json:"raised"` // Unix ms
		Cancelled int64  `json:"cancelled"`
		State     string `json:"state"`
		Position  *struct {
			X float64 `json:"x"` // latitude
			Y float64 `json:"y"` // longitude
		} `json:"position"`
		FixAge int64 `json:"fixAge"`
	}
	if !list(s, "Emergencies", &alerts) {
		return nil
	}
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
			it.Lat, it.Lon = &p.X, &p.Y
		}
		items = append(items, it)
	}
	return items
}

func noticeItems(s *Sim) []ConsoleItem {
	var notices []struct {
		Time int64 `json:"time"` // Unix seconds
		From struct {
			Name string `json:"name"`
		} `json:"from"`
		Title     string `json:"title"`
		Content   string `json:"content"`
		Accessory []struct {
			URL string `json:"url"`
		} `json:"accessory"`
		To []string `json:"to"`
	}
	if !list(s, "Notices", &notices) {
		return nil
	}
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
