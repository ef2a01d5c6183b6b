package web

import (
	"net/http"
	"net/http/httptest"
)

func newRequest(target, acceptLanguage string) (*http.Request, error) {
	r := httptest.NewRequest("GET", target, nil)
	if acceptLanguage != "" {
		r.Header.Set("Accept-Language", acceptLanguage)
	}
	return r, nil
}
