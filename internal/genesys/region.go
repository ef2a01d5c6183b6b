package genesys

import (
	"fmt"
	"strings"
)

// regions maps each AWS region name to its Genesys Cloud domain (reference
// §1.3). af-south-1 is UNCONFIRMED (third-party code only).
var regions = map[string]string{
	"us-east-1":      "mypurecloud.com",
	"us-east-2":      "use2.us-gov-pure.cloud",
	"us-west-2":      "usw2.pure.cloud",
	"ca-central-1":   "cac1.pure.cloud",
	"sa-east-1":      "sae1.pure.cloud",
	"eu-west-1":      "mypurecloud.ie",
	"eu-west-2":      "euw2.pure.cloud",
	"eu-central-1":   "mypurecloud.de",
	"eu-central-2":   "euc2.pure.cloud",
	"ap-south-1":     "aps1.pure.cloud",
	"ap-southeast-2": "mypurecloud.com.au",
	"ap-northeast-1": "mypurecloud.jp",
	"ap-northeast-2": "apne2.pure.cloud",
	"ap-northeast-3": "apne3.pure.cloud",
	"me-central-1":   "mec1.pure.cloud",
	"mx-central-1":   "mxc1.pure.cloud",
	"ap-southeast-1": "apse1.pure.cloud",
	"af-south-1":     "afs1.pure.cloud",
}

// RegionURLs returns the API and login base URLs of a Genesys Cloud region,
// given either as its domain ("mypurecloud.com", "usw2.pure.cloud",
// "mypurecloud.ie", …) or as its AWS region name ("us-east-1",
// "eu-west-1", …). Case, surrounding space, an https:// scheme and a
// leading "api." or "login." label are ignored. An unknown region is an
// error; set Config.APIURL and Config.LoginURL for hosts outside the
// table.
func RegionURLs(region string) (apiURL, loginURL string, err error) {
	r := strings.ToLower(strings.TrimSpace(region))
	r = strings.TrimPrefix(r, "https://")
	r = strings.TrimSuffix(r, "/")
	r = strings.TrimPrefix(r, "api.")
	r = strings.TrimPrefix(r, "login.")
	domain, ok := regions[r]
	if !ok {
		for _, d := range regions {
			if d == r {
				domain, ok = d, true
				break
			}
		}
	}
	if !ok {
		return "", "", fmt.Errorf("unknown genesys region %q: set api_url and login_url instead", region)
	}
	return fmt.Sprintf("https://api.%s", domain), fmt.Sprintf("https://login.%s", domain), nil
}
