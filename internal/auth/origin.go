package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// SameOriginPost reports whether a form post to a page may come from
// where its headers say it comes from (the customer pages' and the
// console's check, beside their form tokens). Sec-Fetch-Site, which every
// current browser sends, must be same-origin: a form of another site, or
// of a sibling subdomain, is refused, and so is a form inside a
// third-party iframe that is not the page's own (a page framed elsewhere
// posts same-origin). A real Origin must be this server's: the request's
// host, or publicHost (public_url's; "" for none). Origin "null" is what
// browsers send for posts from pages whose referrer policy is no-referrer,
// so it proves nothing either way: without Sec-Fetch-Site (an old
// browser, a plain HTTP client) the form's token alone protects the post.
func SameOriginPost(r *http.Request, publicHost string) bool {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" {
			return false
		}
		if !strings.EqualFold(u.Host, r.Host) && (publicHost == "" || !strings.EqualFold(u.Host, publicHost)) {
			return false
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin":
		return true
	}
	return false
}
