package jobs

// The tests page through a few jobs at a time.
func init() { listPage = 3 }
