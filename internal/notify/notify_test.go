package notify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/slotline/slotline/internal/notify"
)

func TestFormatTime(t *testing.T) {
	t.Parallel()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 12, 3, 14, 5, 0, 0, berlin)
	morning := time.Date(2026, 8, 1, 0, 30, 0, 0, berlin)
	for _, tt := range []struct {
		lang string
		t    time.Time
		want string
	}{
		{"en", at, "Dec 3, 2026, 2:05 PM"},
		{"en-GB", morning, "Aug 1, 2026, 12:30 AM"},
		{"de", at, "03.12.2026, 14:05"},
		{"de-AT", morning, "01.08.2026, 00:30"},
		{"fr", at, "3 déc. 2026, 14:05"},
		{"fr-CA", morning, "1 août 2026, 00:30"},
		{"es", at, "3 dic 2026, 14:05"},
		{"es-419", morning, "1 ago 2026, 0:30"},
		{"it", at, "2026-12-03 14:05"},
	} {
		if got := notify.FormatTime(tt.t, tt.lang); got != tt.want {
			t.Errorf("FormatTime(%v, %s) = %q, want %q", tt.t, tt.lang, got, tt.want)
		}
	}
}

func TestChainAndLookup(t *testing.T) {
	t.Parallel()
	if got, want := notify.Chain("fr-CA"), []string{"fr-CA", "fr", "en"}; !cmp.Equal(got, want) {
		t.Errorf("Chain(fr-CA) = %v, want %v", got, want)
	}
	if got, want := notify.Chain(""), []string{"en"}; !cmp.Equal(got, want) {
		t.Errorf("Chain() = %v, want %v", got, want)
	}
	tpl := notify.NewTemplates(map[string]map[string]string{
		"fr-CA": {notify.KindRemind: "Rappel québécois {time}"},
		"en":    {notify.KindMissed: "custom missed"},
	})
	for _, tt := range []struct{ kind, locale, text, lang string }{
		{notify.KindRemind, "fr-CA", "Rappel québécois {time}", "fr-CA"},
		{notify.KindConfirm, "fr-CA", notify.Builtin["fr"][notify.KindConfirm], "fr"},
		{notify.KindMissed, "it", "custom missed", "en"},
		{notify.KindMissed, "de-CH", notify.Builtin["de"][notify.KindMissed], "de"},
		{notify.KindCancel, "", notify.Builtin["en"][notify.KindCancel], "en"},
	} {
		text, lang := tpl.Lookup(tt.kind, tt.locale)
		if text != tt.text || lang != tt.lang {
			t.Errorf("Lookup(%s, %s) = %q, %s; want %q, %s", tt.kind, tt.locale, text, lang, tt.text, tt.lang)
		}
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	paris, _ := time.LoadLocation("Europe/Paris")
	slot := time.Date(2026, 12, 3, 13, 30, 0, 0, time.UTC)
	tpl := notify.NewTemplates(nil)
	v := notify.Values{Time: slot, Zone: paris, Queue: "Support", ManageURL: "https://x.example/manage/t"}
	got := tpl.Render(notify.KindConfirm, "fr-CA", v)
	want := "Votre rappel par Support est prévu le 3 déc. 2026, 14:30.\nModifier ou annuler : https://x.example/manage/t"
	if got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	v.ManageURL = ""
	if got, want := tpl.Render(notify.KindRemind, "en", v), "Reminder: Support will call you at Dec 3, 2026, 2:30 PM."; got != want {
		t.Errorf("Render without a link = %q, want %q", got, want)
	}
	if got := notify.Fill("About {reason}: {queue} {unknown}", "en", notify.Values{Queue: "Q", Reason: "billing"}); got != "About billing: Q {unknown}" {
		t.Errorf("Fill = %q", got)
	}
	for locale, kinds := range notify.Builtin {
		for _, kind := range notify.Kinds {
			text, ok := kinds[kind]
			if !ok {
				t.Errorf("no built-in %s template for %s", kind, locale)
				continue
			}
			if err := notify.CheckTemplate(text); err != nil {
				t.Errorf("built-in %s/%s: %v", locale, kind, err)
			}
			if n := len([]rune(notify.Fill(text, locale, notify.Values{Time: slot, Queue: "Support", ManageURL: strings.Repeat("x", 60)}))); n > 160 {
				t.Errorf("built-in %s/%s renders %d characters, want one SMS (160)", locale, kind, n)
			}
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	t.Parallel()
	if err := notify.CheckTemplate("{time} {queue} {reason} {manage_url} {not a placeholder}"); err != nil {
		t.Errorf("CheckTemplate of known placeholders: %v", err)
	}
	err := notify.CheckTemplate("See {url}")
	if err == nil || !strings.Contains(err.Error(), "{url}") {
		t.Errorf("CheckTemplate({url}) = %v, want an error naming it", err)
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	q, err := notify.ParseQuietHours("21:00-08:00")
	if err != nil || q.String() != "21:00-08:00" {
		t.Fatalf("ParseQuietHours = %v, %v", q, err)
	}
	day := func(h, m int) time.Time { return time.Date(2026, 3, 7, h, m, 0, 0, ny) }
	for _, tt := range []struct{ at, want time.Time }{
		{day(20, 59), day(20, 59)},
		{day(21, 0), time.Date(2026, 3, 8, 8, 0, 0, 0, ny)}, // over the DST change: 08:00 EDT
		{day(7, 59), day(8, 0)},
		{day(8, 0), day(8, 0)},
		{day(12, 0), day(12, 0)},
	} {
		if got := q.After(tt.at, ny); !got.Equal(tt.want) {
			t.Errorf("After(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	day2, _ := notify.ParseQuietHours("12:00-13:30")
	if got := day2.After(day(12, 10), ny); !got.Equal(day(13, 30)) {
		t.Errorf("After in a daytime interval = %v", got)
	}
	for _, bad := range []string{"21-08", "25:00-08:00", "21:00-21:00", "21:00"} {
		if _, err := notify.ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
}
