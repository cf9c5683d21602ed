//go:build failpoints && unix

package failpoint

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

var (
	// declared holds every name passed to Declare (package init time).
	declared sync.Map
	// target is the parsed environment variable, read at the first hit,
	// after every package declared its points; name "" fires nothing.
	target = sync.OnceValue(func() spec { return parse(os.Getenv(Env)) })
	// hits counts the hits of the target's point.
	hits atomic.Int64
)

type spec struct {
	name string
	n    int64
}

// Declare records name as a failpoint and returns it.
func Declare(name string) string {
	declared.Store(name, struct{}{})
	return name
}

// parse reads "<name>" or "<name>:<n>"; a value it cannot use is reported
// on stderr and disables the failpoint, rather than break the process
// somewhere unintended.
func parse(v string) spec {
	if v == "" {
		return spec{}
	}
	name, count, hasCount := strings.Cut(v, ":")
	s := spec{name: name, n: 1}
	if hasCount {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "%s=%q: the hit count must be a positive integer; failpoint disabled\n", Env, v)
			return spec{}
		}
		s.n = n
	}
	if _, ok := declared.Load(name); ok {
		return s
	}
	var names []string
	declared.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
	slices.Sort(names)
	fmt.Fprintf(os.Stderr, "%s=%q: no such failpoint (want one of %s); failpoint disabled\n", Env, v, strings.Join(names, ", "))
	return spec{}
}

// fires reports whether name is the target and this is its n-th hit.
func fires(name string) bool {
	t := target()
	return name == t.name && hits.Add(1) == t.n
}

// Kill kills the process with SIGKILL when name fires.
func Kill(name string) {
	if !fires(name) {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	// SIGKILL cannot be caught; block until the kernel has ended the process
	// so that this goroutine takes no further step.
	select {}
}

// Wedge blocks the calling goroutine forever when name fires, after
// saying so on stderr ("failpoint NAME: wedged"), the instant a test
// measures from.
func Wedge(name string) {
	if !fires(name) {
		return
	}
	fmt.Fprintf(os.Stderr, "failpoint %s: wedged\n", name)
	select {}
}
