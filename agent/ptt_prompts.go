package agent

import (
	"fmt"
	"strings"
)

// phrases are the spoken prompts in the language of tts.voice: Mandarin
// for a cmn/zh voice (espeak-ng reads Chinese characters only with one),
// English otherwise. Group names and text messages are spoken as they
// are.
type phrases struct {
	uplinkLost, uplinkRestored, gpsAcquired, gpsLost string
	batteryLow                                       func(percent int) string
	message                                          func(from, text string) string
}

func phrasesFor(voice string) phrases {
	v := strings.ToLower(voice)
	if v == "cmn" || v == "zh" || strings.HasPrefix(v, "cmn-") || strings.HasPrefix(v, "zh-") || strings.HasSuffix(v, "/cmn") {
		return phrases{
			uplinkLost: "网络已断开", uplinkRestored: "网络已恢复", gpsAcquired: "已定位", gpsLost: "定位丢失",
			batteryLow: func(p int) string { return fmt.Sprintf("电量低，剩余百分之%d", p) },
			message:    func(from, text string) string { return from + "的消息：" + text },
		}
	}
	return phrases{
		uplinkLost: "Network lost", uplinkRestored: "Network restored", gpsAcquired: "GPS fix acquired", gpsLost: "GPS fix lost",
		batteryLow: func(p int) string { return fmt.Sprintf("Battery low, %d percent", p) },
		message:    func(from, text string) string { return "Message from " + from + ". " + text },
	}
}
