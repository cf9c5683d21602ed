//go:build !failpoints || !unix

package alert

// failpoint marks a cut point of the send path. Without the failpoints
// build tag it does nothing and compiles away.
func failpoint(string) {}
