// Package failpoint lets a test build break the daemon on purpose at named
// points: kill the process there (the outbox crash test) or wedge the
// calling goroutine forever (the liveness tests). Only a build with the
// failpoints tag acts (go build -tags failpoints); release builds compile
// every call away.
//
// The point is chosen by an environment variable:
//
//	SPACETIME_WATCH_FAILPOINT=after-confirm     # at the first hit
//	SPACETIME_WATCH_FAILPOINT=after-confirm:3   # at the third hit
//
// Each package declares its points with Declare, at package level, so that
// a misspelt name is reported on stderr (and disables the failpoint)
// instead of silently never firing.
package failpoint

// Env names the failpoint to fire.
const Env = "SPACETIME_WATCH_FAILPOINT"
