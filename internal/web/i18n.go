package web

import (
	"embed"
	"net/http"

	"github.com/slotline/slotline/internal/i18n"
	"golang.org/x/text/language"
)

// Languages are the page languages shipped, the first the fallback.
var Languages = []string{"en", "de", "fr", "es"}

// languageNames are each language's name in itself, for the language
// links.
var languageNames = map[string]string{"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}

//go:embed i18n/*.json
var catalogFS embed.FS

// loadCatalogs reads the embedded catalogs; every shipped language must
// have one.
func loadCatalogs() (i18n.Catalogs, error) { return i18n.Load(catalogFS, "i18n", Languages) }

// locale is the page's language and the region its defaults come from.
type locale struct {
	Lang   string // one of Languages
	Tag    string // the tag it was chosen by, canonical ("de-AT"), for the reservation
	Region string // ISO 3166 region: the phone number's default country, the zone's guess
}

// chooseLocale picks the page's language: ?lang=, else Accept-Language
// (in order of preference), else the queue's locale (fallback), else en.
func chooseLocale(r *http.Request, fallback string) locale {
	if l, ok := matchLocale(langParam(r)); ok {
		return l
	}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		for _, t := range tags {
			if l, ok := localeOf(t); ok {
				return l
			}
		}
	}
	if l, ok := matchLocale(fallback); ok {
		return l
	}
	l, _ := matchLocale("en")
	return l
}

// langParam is the lang parameter: of the query, or of a POSTed form
// once it is parsed (the form carries the language the page was in).
func langParam(r *http.Request) string {
	if r.Form != nil {
		return r.Form.Get("lang")
	}
	return r.URL.Query().Get("lang")
}

// matchLocale returns the shipped locale of one BCP 47 tag.
func matchLocale(s string) (locale, bool) {
	if s == "" || len(s) > 35 {
		return locale{}, false
	}
	t, err := language.Parse(s)
	if err != nil {
		return locale{}, false
	}
	return localeOf(t)
}

// localeOf returns the locale of t when its language is shipped; the
// region is t's own or the one its language implies (en → US, de → DE).
func localeOf(t language.Tag) (locale, bool) {
	base, _ := t.Base()
	for _, l := range Languages {
		if base.String() != l {
			continue
		}
		reg, _ := t.Region()
		out := locale{Lang: l, Tag: l, Region: reg.String()}
		if reg.IsCountry() {
			if conf := regionConfidence(t); conf == language.Exact {
				out.Tag = l + "-" + reg.String()
			}
		} else {
			reg, _ = language.Make(l).Region()
			out.Region = reg.String()
		}
		return out, true
	}
	return locale{}, false
}

func regionConfidence(t language.Tag) language.Confidence {
	_, c := t.Region()
	return c
}
