package pttsim

import (
	"encoding/json"
	"reflect"
)

// The console's feeds of features written beside it. Notices (wapi
// accept/event) were built on another branch at the same time as the
// console, so their feed finds (*Sim).Notices by name and reads it through
// its JSON (wire.Notice and the accounts it went "to"): the panel appears
// in a build that has notices and is absent from one that has not, and
// neither change had to wait for the other. Once both are merged, a direct
// call to s.Notices() can replace the lookup.
func init() {
	if m, ok := reflect.TypeFor[*Sim]().MethodByName("Notices"); ok && m.Type.NumIn() == 1 && m.Type.NumOut() == 1 {
		registerConsoleFeed("notices", "Notices", noticeItems)
	}
}

func noticeItems(s *Sim) []ConsoleItem {
	out := reflect.ValueOf(s).MethodByName("Notices").Call(nil)
	b, err := json.Marshal(out[0].Interface())
	if err != nil {
		return nil
	}
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
	if json.Unmarshal(b, &notices) != nil {
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
