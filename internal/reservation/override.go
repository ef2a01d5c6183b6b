package reservation

import "time"

// Override is a capacity change made at runtime: from Start (inclusive)
// to End (exclusive), every capacity bucket of the queue that starts in
// the range has Capacity (0: closed), over the configuration's capacity.
// Where overrides overlap, the one put last wins. StartLocal and
// EndLocal are the range as the operator wrote it.
type Override struct {
	ID                   string
	QueueID              string
	Start, End           time.Time
	StartLocal, EndLocal string
	Capacity             int
	Reason               string
	Actor                string
	CreatedAt, UpdatedAt time.Time
}

// Covers reports whether the bucket starting at bucket is in o's range.
func (o *Override) Covers(bucket time.Time) bool {
	return !bucket.Before(o.Start) && bucket.Before(o.End)
}

// OverrideAt returns the override in effect for the bucket starting at
// bucket among os (the last put that covers it), or nil.
func OverrideAt(os []*Override, bucket time.Time) *Override {
	var out *Override
	for _, o := range os {
		if o.Covers(bucket) && (out == nil || o.UpdatedAt.After(out.UpdatedAt) ||
			(o.UpdatedAt.Equal(out.UpdatedAt) && o.ID > out.ID)) {
			out = o
		}
	}
	return out
}

// EffectiveCap is the cap of a bucket of capacity for a reservation of
// concurrency limit limit (0: none): the smaller of the two.
func EffectiveCap(capacity, limit int) int {
	if limit > 0 && limit < capacity {
		return limit
	}
	return capacity
}

// OriginOperator is the origin of a change an operator made for the
// deployment (a reservation moved off a bucket left over capacity).
const OriginOperator = "operator"
