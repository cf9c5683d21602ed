//go:build !failpoints || !unix

package failpoint

// Declare returns name; without the failpoints build tag nothing fires.
func Declare(name string) string { return name }

// Kill does nothing without the failpoints build tag.
func Kill(string) {}

// Wedge does nothing without the failpoints build tag.
func Wedge(string) {}
