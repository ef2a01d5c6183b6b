package console

import (
	"embed"
	"net/http"

	"github.com/slotline/slotline/internal/i18n"
	"golang.org/x/text/language"
)

// Languages are the console's languages, the first the fallback.
var Languages = []string{"en", "de", "fr", "es"}

//go:embed i18n/*.json
var catalogFS embed.FS

// loadCatalogs reads the embedded catalogs; every shipped language must
// have one.
func loadCatalogs() (i18n.Catalogs, error) { return i18n.Load(catalogFS, "i18n", Languages) }

// chooseLang picks the page's language: ?lang= (or the posted form's
// lang), else Accept-Language in order of preference, else en.
func chooseLang(r *http.Request) string {
	want := r.URL.Query().Get("lang")
	if r.Form != nil && r.Form.Get("lang") != "" {
		want = r.Form.Get("lang")
	}
	if l, ok := shipped(want); ok {
		return l
	}
	if tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		for _, t := range tags {
			if l, ok := shipped(t.String()); ok {
				return l
			}
		}
	}
	return Languages[0]
}

// shipped returns the console language of a BCP 47 tag.
func shipped(tag string) (string, bool) {
	if tag == "" || len(tag) > 35 {
		return "", false
	}
	t, err := language.Parse(tag)
	if err != nil {
		return "", false
	}
	base, _ := t.Base()
	for _, l := range Languages {
		if base.String() == l {
			return l, true
		}
	}
	return "", false
}
