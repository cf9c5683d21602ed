//go:build unix

package alert

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// crashRunsPerCut is how many times the crash test kills the outbox at each
// cut point: 3 × 34 = 102 randomized kill points (reliability scenario 2
// asks for 100, the issue for at least 30 per cut point).
const crashRunsPerCut = 34

// crashMessagesPerRun is how many messages each killed run enqueues.
const crashMessagesPerRun = 8

// TestOutboxCrashAtEveryCutPoint is reliability scenario 2. For each cut
// point of the send path it runs a child process (internal/crashchild,
// built with -tags failpoints) that enqueues messages and delivers them to
// a loopback receiver until it SIGKILLs itself at the cut point's n-th hit
// (n random); a second child on the same state dir then drains the queue.
// Over all runs no message whose Enqueue returned may be lost, and only
// the after-confirm cut may duplicate one: exactly the message in flight.
//
// The after-enqueue cut kills the alert manager right after it queued a
// notification: the restarted child raises the same alerts again, and
// each must be notified exactly once, so the queued message and the
// manager's record of it must commit together.
//
// The figures are printed with -v:
//
//	go test -v -run TestOutboxCrashAtEveryCutPoint ./internal/alert
func TestOutboxCrashAtEveryCutPoint(t *testing.T) {
	bin := testkit.BuildWithFailpoints(t, "./internal/crashchild")
	cuts := []struct {
		name    string
		dups    int  // duplicates each run must show
		manager bool // the child raises alerts through the alert manager
	}{
		{fpAfterEnqueue, 0, true},
		{fpBeforeSend, 0, false},
		{fpAfterConfirm, 1, false},
		{fpAfterCommit, 0, false},
	}
	for _, cut := range cuts {
		t.Run(cut.name, func(t *testing.T) {
			t.Parallel()
			recv := newCrashReceiver(t)
			dir := t.TempDir() // one state dir for all the runs: it survives every kill
			var owed, losses, dups, maxDups int
			for run := range crashRunsPerCut {
				prefix := fmt.Sprintf("r%02d", run)
				fp := fmt.Sprintf("%s:%d", cut.name, 1+rand.IntN(crashMessagesPerRun))
				work, drain := []string{"-enqueue", fmt.Sprint(crashMessagesPerRun)}, []string{}
				if cut.manager {
					work = []string{"-alerts", fmt.Sprint(crashMessagesPerRun)}
					drain = work // the restarted daemon sees the same conditions
				}
				out, state := runCrashChild(t, bin, dir, recv.url, prefix, fp, work...)
				if ws, ok := state.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("run %d: the child was not killed at %s but ended with %v:\n%s", run, fp, state, out)
				}
				promised := enqueuedIDs(out)
				if cut.manager {
					promised = nil // every alert raised is owed a notification
					for i := range crashMessagesPerRun {
						promised = append(promised, fmt.Sprintf("%s-%03d", prefix, i))
					}
				}

				out, state = runCrashChild(t, bin, dir, recv.url, prefix, "", drain...)
				if !state.Success() || !strings.Contains(out, "drained") {
					t.Fatalf("run %d: the restarted child did not drain the queue (%v):\n%s", run, state, out)
				}

				counts := recv.counts(prefix)
				for _, id := range promised {
					if counts[id] == 0 {
						losses++
						t.Errorf("run %d (%s): message %s was enqueued but never delivered", run, fp, id)
					}
				}
				runDups := 0
				for _, c := range counts {
					runDups += max(c-1, 0)
				}
				if runDups != cut.dups {
					t.Errorf("run %d (%s): %d duplicates, want %d (counts %v)", run, fp, runDups, cut.dups, counts)
				}
				owed += len(promised)
				dups += runDups
				maxDups = max(maxDups, runDups)
			}
			t.Logf("cut point %s: %d runs, %d SIGKILLs, %d messages enqueued, losses %d, duplicates %d (at most %d per run)",
				cut.name, crashRunsPerCut, crashRunsPerCut, owed, losses, dups, maxDups)
		})
	}
}

// runCrashChild runs the child with args to its end; fp "" runs it without
// a failpoint.
func runCrashChild(t *testing.T, bin, dir, url, prefix, fp string, args ...string) (string, *os.ProcessState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-dir", dir, "-url", url, "-prefix", prefix}, args...)...)
	cmd.Env = []string{"SPACETIME_WATCH_FAILPOINT=" + fp}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	_ = cmd.Wait() // the exit status is the caller's to judge
	if ctx.Err() != nil {
		t.Fatalf("the child (failpoint %q) ran for more than 30s:\n%s", fp, out.String())
	}
	return out.String(), cmd.ProcessState
}

// enqueuedIDs returns the IDs of the child's "enqueued <id>" lines: the
// messages whose Enqueue returned, which the outbox owes.
func enqueuedIDs(out string) []string {
	var ids []string
	for _, l := range strings.Split(out, "\n") {
		if id, ok := strings.CutPrefix(l, "enqueued "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// crashReceiver is the children's sink: it counts the message IDs posted.
type crashReceiver struct {
	url string

	mu  sync.Mutex
	got map[string]int
}

func newCrashReceiver(t *testing.T) *crashReceiver {
	r := &crashReceiver{got: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got[string(body)]++
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// counts returns how often each ID with prefix was received.
func (r *crashReceiver) counts(prefix string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for id, n := range r.got {
		if strings.HasPrefix(id, prefix+"-") {
			out[id] = n
		}
	}
	return out
}
