//go:build failpoints && unix

package alert

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// A build with the failpoints tag (go build -tags failpoints) kills itself
// with SIGKILL at a chosen cut point of the send path, so that the crash
// test can prove what a crash there loses (nothing) and duplicates:
//
//	SPACETIME_WATCH_FAILPOINT=after-confirm     # at the first hit
//	SPACETIME_WATCH_FAILPOINT=after-confirm:3   # at the third hit
//
// The cut points are fpAfterEnqueue, fpBeforeSend, fpAfterConfirm and
// fpAfterCommit (outbox_dispatch.go). Release builds never carry this file.
const failpointEnv = "SPACETIME_WATCH_FAILPOINT"

// failpointTarget is the parsed environment variable; name is empty when
// no failpoint is set.
var failpointTarget = parseFailpoint(os.Getenv(failpointEnv))

// failpointHits counts the hits of the target's cut point.
var failpointHits atomic.Int64

type failpointSpec struct {
	name string
	n    int64
}

// parseFailpoint reads "<name>" or "<name>:<n>"; a value it cannot use is
// reported on stderr and disables the failpoint, rather than kill the
// process somewhere unintended.
func parseFailpoint(v string) failpointSpec {
	if v == "" {
		return failpointSpec{}
	}
	name, count, hasCount := strings.Cut(v, ":")
	spec := failpointSpec{name: name, n: 1}
	if hasCount {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "%s=%q: the hit count must be a positive integer; failpoint disabled\n", failpointEnv, v)
			return failpointSpec{}
		}
		spec.n = n
	}
	switch name {
	case fpAfterEnqueue, fpBeforeSend, fpAfterConfirm, fpAfterCommit:
		return spec
	}
	fmt.Fprintf(os.Stderr, "%s=%q: no such cut point (want %s, %s, %s or %s); failpoint disabled\n",
		failpointEnv, v, fpAfterEnqueue, fpBeforeSend, fpAfterConfirm, fpAfterCommit)
	return failpointSpec{}
}

// failpoint kills the process when name is the target cut point and this
// is its n-th hit.
func failpoint(name string) {
	if name != failpointTarget.name || failpointHits.Add(1) != failpointTarget.n {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	// SIGKILL cannot be caught; block until the kernel has ended the process
	// so that this goroutine takes no further step.
	select {}
}
