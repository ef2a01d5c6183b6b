package web

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/slotline/slotline/internal/reservation"
)

var placeholder = regexp.MustCompile(`\{[a-z_]+\}`)

// TestCatalogsComplete: every language has every key the pages use (and
// only those, but the widget's), with the same placeholders as en.
func TestCatalogsComplete(t *testing.T) {
	t.Parallel()
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, kind := range []string{"notfound", "link", "forbidden", "unavailable", "busy"} {
		used["plain."+kind+".title"], used["plain."+kind+".text"] = true, true
	}
	for _, s := range reservation.Statuses {
		used["status."+string(s)] = true
		if o := reservation.OutcomeOf(s); o != "" {
			used["outcome."+string(o)] = true
		}
	}
	used["outcome."+string(reservation.OutcomeNotReached)] = true
	for d := range 7 {
		used["day.closed_weekday."+strconv.Itoa(d)] = true
	}
	uses := regexp.MustCompile(`"((?:book|booked|error|day|picker|manage|cancel|reschedule|nav|plain|status|outcome)\.[a-z_.0-9]*[a-z_0-9])"`)
	files, _ := os.ReadDir(".")
	var sources []string
	for _, f := range files {
		if n := f.Name(); len(n) > 3 && n[len(n)-3:] == ".go" && !regexp.MustCompile(`_test\.go$`).MatchString(n) {
			sources = append(sources, n)
		}
	}
	tmpls, _ := os.ReadDir("templates")
	for _, f := range tmpls {
		sources = append(sources, "templates/"+f.Name())
	}
	for _, name := range sources {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range uses.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	if len(used) < 50 {
		t.Fatalf("only %d keys found in the sources: the scan is broken", len(used))
	}
	for key := range used {
		for _, l := range Languages {
			if _, ok := c[l][key]; !ok {
				t.Errorf("%s: key %q missing", l, key)
			}
		}
	}
	for _, l := range Languages {
		for key, s := range c[l] {
			en, ok := c["en"][key]
			if !ok {
				t.Errorf("%s: key %q is not in en", l, key)
				continue
			}
			if !used[key] && !regexp.MustCompile(`^widget\.`).MatchString(key) {
				t.Errorf("%s: key %q is used nowhere", l, key)
			}
			a, b := placeholder.FindAllString(en, -1), placeholder.FindAllString(s, -1)
			slices.Sort(a)
			slices.Sort(b)
			if !slices.Equal(a, b) {
				t.Errorf("%s: %q has placeholders %v, en %v", l, key, b, a)
			}
		}
	}
}

func TestFormats(t *testing.T) {
	t.Parallel()
	d := func(h, m int) time.Time { return time.Date(2026, 12, 3, h, m, 0, 0, time.UTC) }
	for _, c := range []struct {
		lang             string
		start, end       time.Time
		wantDate, wantRg string
	}{
		{"en", d(9, 0), d(9, 15), "Thursday, December 3, 2026", "9:00 – 9:15 AM"},
		{"en-GB", d(11, 45), d(12, 0), "Thursday, December 3, 2026", "11:45 AM – 12:00 PM"},
		{"en", d(12, 0), d(12, 15), "Thursday, December 3, 2026", "12:00 – 12:15 PM"},
		{"en", d(23, 45), d(0, 0), "Thursday, December 3, 2026", "11:45 PM – 12:00 AM"},
		{"de", d(9, 0), d(9, 15), "Donnerstag, 3. Dezember 2026", "09:00–09:15"},
		{"de-AT", d(14, 30), d(14, 45), "Donnerstag, 3. Dezember 2026", "14:30–14:45"},
		{"fr", d(9, 0), d(9, 15), "jeudi 3 décembre 2026", "09:00 – 09:15"},
		{"es", d(9, 0), d(9, 15), "jueves, 3 de diciembre de 2026", "9:00–9:15"},
		{"ja", d(9, 0), d(9, 15), "Thursday, December 3, 2026", "9:00 – 9:15 AM"},
	} {
		if got := FormatDate(c.start, c.lang); got != c.wantDate {
			t.Errorf("FormatDate(%s) = %q, want %q", c.lang, got, c.wantDate)
		}
		if got := FormatRange(c.start, c.end, c.lang); got != c.wantRg {
			t.Errorf("FormatRange(%v, %s) = %q, want %q", c.start, c.lang, got, c.wantRg)
		}
	}
}

func TestChooseLocale(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		query, accept, fallback string
		want                    locale
	}{
		{"", "", "", locale{"en", "en", "US"}},
		{"lang=de-AT", "fr", "es", locale{"de", "de-AT", "AT"}},
		{"lang=ja", "fr-CA,fr;q=0.8", "", locale{"fr", "fr-CA", "CA"}},
		{"", "ja, es;q=0.5", "de", locale{"es", "es", "ES"}},
		{"", "ja", "de", locale{"de", "de", "DE"}},
		{"lang=%ZZ", "", "fr", locale{"fr", "fr", "FR"}},
		{"", "es-419", "", locale{"es", "es", "ES"}},
	} {
		r, _ := newRequest("/book/q?"+c.query, c.accept)
		if got := chooseLocale(r, c.fallback); got != c.want {
			t.Errorf("chooseLocale(%q, %q, %q) = %+v, want %+v", c.query, c.accept, c.fallback, got, c.want)
		}
	}
}

func TestGuessZone(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	for region, want := range map[string]string{"US": "America/New_York", "DE": "Europe/Berlin", "AT": "Europe/Vienna",
		"FR": "Europe/Paris", "ES": "Europe/Madrid", "": "America/New_York"} {
		if got := guessZone(region, ny).String(); got != want {
			t.Errorf("guessZone(%q) = %s, want %s", region, got, want)
		}
	}
}

// TestSameOrigin: which posts the origin check lets through to the
// ticket check.
func TestSameOrigin(t *testing.T) {
	t.Parallel()
	s := &Server{publicHost: "callbacks.example.com"}
	for _, c := range []struct {
		origin, site string
		want         bool
	}{
		{"", "", true},                // a plain HTTP client: the ticket alone decides
		{"null", "same-origin", true}, // our own form under no-referrer
		{"null", "", true},            // an old browser
		{"https://slotline.internal:8080", "", true},
		{"https://callbacks.example.com", "same-origin", true}, // behind a proxy: public_url's host
		{"https://evil.example", "", false},
		{"https://evil.example", "same-origin", false},
		{"null", "cross-site", false},
		{"", "same-site", false},
		{"", "none", false},
		{"not a url", "", false},
	} {
		r, _ := newRequest("/book/q", "")
		r.Method, r.Host = "POST", "slotline.internal:8080"
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if got := s.sameOrigin(r); got != c.want {
			t.Errorf("Origin %q, Sec-Fetch-Site %q: %v, want %v", c.origin, c.site, got, c.want)
		}
	}
}
