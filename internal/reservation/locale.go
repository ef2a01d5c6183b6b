package reservation

import (
	"fmt"

	"golang.org/x/text/language"
)

// DefaultLocale is the language of a queue that names none.
const DefaultLocale = "en"

// ParseLocale checks a BCP 47 language tag ("de", "fr-CA", "es-419") and
// returns it in canonical form.
func ParseLocale(s string) (string, error) {
	if s == "" || len(s) > 35 {
		return "", fmt.Errorf("must be a BCP 47 language tag like \"en\" or \"fr-CA\"")
	}
	t, err := language.Parse(s)
	if err != nil || t == language.Und {
		return "", fmt.Errorf("%q is not a BCP 47 language tag (like \"en\" or \"fr-CA\")", s)
	}
	return t.String(), nil
}
