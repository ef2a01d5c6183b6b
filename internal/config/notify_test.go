package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/config"
	"github.com/slotline/slotline/internal/notify"
)

// TestParseNotify: each queue's notify block with its defaults (the
// missed-callback fallback only), and sms.templates by locale and kind;
// an unknown placeholder is an error naming the file and line.
func TestParseNotify(t *testing.T) {
	t.Parallel()
	data := `sms:
  text: "Missed: {queue}"
  templates:
    fr-ca:
      remind: "Rappel {time} {manage_url}"
    de: {confirm: "Gebucht: {time}"}
queues:
  - {id: q1, timezone: UTC}
  - id: q2
    timezone: UTC
    notify: {confirm: true, remind_before: 15m, on_cancel: true, on_missed: false, quiet_hours: "21:00-08:00"}
`
	c, err := config.Parse("t.yaml", []byte(data), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Queues[0].Notify; got != notify.DefaultPolicy || !got.OnMissed || got.Confirm || got.RemindBefore != 0 || got.OnCancel {
		t.Errorf("default policy %+v", got)
	}
	want := notify.Policy{Confirm: true, RemindBefore: 15 * time.Minute, OnCancel: true, Quiet: notify.QuietHours{Start: 21 * 60, End: 8 * 60}}
	if got := c.Queues[1].Notify; got != want {
		t.Errorf("policy %+v, want %+v", got, want)
	}
	if c.SMS.Text != "Missed: {queue}" || c.SMS.Templates["fr-CA"]["remind"] != "Rappel {time} {manage_url}" ||
		c.SMS.Templates["de"]["confirm"] != "Gebucht: {time}" || len(c.SMS.Templates) != 2 {
		t.Errorf("sms = %+v", c.SMS)
	}
	queues := "queues:\n  - {id: q1, timezone: UTC}\n"
	for _, bad := range []struct{ yaml, want string }{
		{"sms:\n  templates:\n    en:\n      confirm: \"See {url}\"\n", "t.yaml:4: sms.templates.en.confirm: unknown placeholder {url}"},
		{"sms:\n  text: \"{reason} {name}\"\n", "t.yaml:2: sms.text: unknown placeholder {name}"},
		{"sms:\n  templates:\n    en: {reminder: x}\n", "sms.templates.en.reminder: unknown field"},
		{"sms:\n  templates:\n    \"!!\": {confirm: x}\n", "t.yaml:3: sms.templates.!!"},
		{"sms:\n  templates:\n    FR: {confirm: x}\n    fr: {confirm: y}\n", "names the locale fr again"},
	} {
		_, err := config.Parse("t.yaml", []byte(bad.yaml+queues), "", nil)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.yaml, err, bad.want)
		}
	}
	for _, bad := range []struct{ notify, want string }{
		{"{quiet_hours: \"21:00\"}", "queues[0].notify.quiet_hours"},
		{"{remind_before: -5m}", "queues[0].notify.remind_before"},
		{"{remind_before: 8d}", "is more than 7d"},
		{"{confirm: yes please}", "queues[0].notify.confirm"},
		{"{remind: 15m}", "queues[0].notify.remind: unknown field"},
	} {
		_, err := config.Parse("t.yaml", []byte("queues:\n  - {id: q1, timezone: UTC, notify: "+bad.notify+"}\n"), "", nil)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("notify %s: error %v, want one containing %q", bad.notify, err, bad.want)
		}
	}
}
