//go:build !unix

package app

// lockDatabase does not lock on this platform: restore cannot tell whether
// a server uses the database, and says so (docs/operations.md).
func lockDatabase(string, bool) (unlock func(), ok bool, err error) { return func() {}, true, nil }

// lockChecked says whether lockDatabase can see other processes here.
const lockChecked = false
