package reservation

import (
	"time"

	"github.com/nyaruka/phonenumbers"
)

// CustomerZone is the time zone of the customer who owns an E.164 number,
// when the number's prefix places it in exactly one zone (a German or
// French number, a US number of one area code in one zone), or nil when it
// does not (an unknown prefix, a mobile range that spans a country's
// zones). Messages to the customer give times in this zone when it is
// known and in the queue's otherwise.
func CustomerZone(number string) *time.Location {
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return nil
	}
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil || len(zones) != 1 {
		return nil
	}
	loc, err := time.LoadLocation(zones[0])
	if err != nil {
		return nil
	}
	return loc
}

// CustomerRegion is the ISO 3166 region of an E.164 number ("US", "GB"),
// or "" when it cannot be told.
func CustomerRegion(number string) string {
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(num)
}
