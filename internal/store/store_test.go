package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestOpenCreatesStateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	s := openT(t, dir, Options{})

	if rep := s.Report(); !rep.Created || rep.Recovered || rep.SafeMode {
		t.Errorf("Report() = %+v, want Created only", rep)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, "state.db"), 0o600},
		{filepath.Join(dir, "state.lock"), 0o600},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	pid, err := os.ReadFile(filepath.Join(dir, "state.lock"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("state.lock holds %q (%v), want our pid %d", pid, err, os.Getpid())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if pid, _ := os.ReadFile(filepath.Join(dir, "state.lock")); len(pid) != 0 {
		t.Errorf("state.lock holds %q after Close, want it empty", pid)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("state dir holds %v, want state.db and state.lock only", entries)
	}
}

// TestOpenRefusesZeroBounds: the store defaults none of its bounds (the
// daemon's are the config's); a zero one is an error naming every field,
// and nothing is created.
func TestOpenRefusesZeroBounds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	_, err := Open(dir, Options{NoSync: true})
	if err == nil {
		t.Fatal("Open with zero bounds succeeded")
	}
	for _, f := range []string{"LockTimeout", "DeploymentHistory", "CheckHistory", "CheckRetention", "DeadLetters", "RollupRetention", "RollupHistory"} {
		if !strings.Contains(err.Error(), "Options."+f+": must be positive") {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir after a refused Open: %v, want none", err)
	}
}

func TestReopenKeepsState(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock(t)
	s := openT(t, dir, Options{Now: clk.Now})

	d, err := s.StartDeployment(Deployment{Target: "vr-1", Version: "1.2.3", Source: SourceConfig})
	if err != nil {
		t.Fatal(err)
	}
	check := CheckRecord{Check: "health", Result: ResultFail, Observed: "503", Expected: "200", Reason: "HTTP 503", Duration: 42 * time.Millisecond}
	mustDo(t, s.RecordCheck("vr-1", check))
	mustDo(t, s.PutRuleState("vr-1", "fps", []byte(`{"failing":2}`)))
	mustDo(t, s.PutMeta("monitor/instance/vr-1", []byte("abc")))
	seq, err := s.OutboxAppend("slack", []byte("hello"))
	mustDo(t, err)
	mustDo(t, s.Close())

	s = openT(t, dir, Options{Now: clk.Now})
	if rep := s.Report(); rep.Created || rep.Recovered {
		t.Errorf("Report() after reopen = %+v, want neither Created nor Recovered", rep)
	}
	if got, ok, err := s.CurrentDeployment("vr-1"); err != nil || !ok || !sameDeployment(got, d) {
		t.Errorf("CurrentDeployment = %+v, %v, %v; want %+v", got, ok, err, d)
	}
	check.At = clk.Now()
	if got, err := s.CheckHistory("vr-1", time.Time{}); err != nil || len(got) != 1 || !sameCheck(got[0], check) {
		t.Errorf("CheckHistory = %+v, %v; want [%+v]", got, err, check)
	}
	if got, err := s.RuleStates("vr-1"); err != nil || string(got["fps"]) != `{"failing":2}` {
		t.Errorf("RuleStates = %q, %v", got, err)
	}
	if got, ok, err := s.GetMeta("monitor/instance/vr-1"); err != nil || !ok || string(got) != "abc" {
		t.Errorf("GetMeta = %q, %v, %v", got, ok, err)
	}
	if got, err := s.OutboxPeek("slack", 0); err != nil || len(got) != 1 || got[0].Seq != seq || string(got[0].Payload) != "hello" {
		t.Errorf("OutboxPeek = %+v, %v", got, err)
	}
	checkInvariants(t, s)
}

func TestSecondOpenInProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := openT(t, dir, Options{})

	const timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := Open(dir, testOptions(Options{LockTimeout: timeout}))
	elapsed := time.Since(start)

	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want a *LockedError matching ErrLocked", err)
	}
	if le.Dir != dir || le.PID != os.Getpid() {
		t.Errorf("LockedError = %+v, want dir %s and pid %d", le, dir, os.Getpid())
	}
	for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid()), "--state.dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if elapsed < timeout || elapsed > timeout+time.Second {
		t.Errorf("second Open returned after %v, want about the lock timeout %v", elapsed, timeout)
	}

	mustDo(t, first.Close())
	openT(t, dir, Options{LockTimeout: timeout}) // released on Close
}

func TestOpenRefusedWhileAnotherProcessHoldsTheDir(t *testing.T) {
	dir := t.TempDir()
	h := startHelper(t, "hold", dir)
	if l := h.next(t, 10*time.Second); l != "ready" {
		t.Fatalf("helper said %q, want ready", l)
	}

	_, err := Open(dir, testOptions(Options{LockTimeout: 100 * time.Millisecond}))
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open while held: %v, want a *LockedError", err)
	}
	if le.PID != h.cmd.Process.Pid {
		t.Errorf("LockedError names pid %d, want the holder's %d", le.PID, h.cmd.Process.Pid)
	}

	// A killed holder leaves no stale lock: the kernel drops flocks on exit.
	h.cmd.Process.Kill()
	h.wait()
	openT(t, dir, Options{LockTimeout: 100 * time.Millisecond})
}

func TestOpenUnusableStateDir(t *testing.T) {
	// Tests run as root in CI, and root ignores permission bits: these cases
	// make the dir unusable by its shape instead. The chmod case runs only
	// for other users.
	tests := []struct {
		name    string
		setup   func(t *testing.T) string // returns the state dir
		wantErr error
	}{
		{"dir is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "state")
			mustDo(t, os.WriteFile(p, nil, 0o600))
			return p
		}, ErrNotWritable},
		{"parent is a file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			mustDo(t, os.WriteFile(p, nil, 0o600))
			return filepath.Join(p, "state")
		}, ErrNotWritable},
		{"state.db is a directory", func(t *testing.T) string {
			dir := t.TempDir()
			mustDo(t, os.Mkdir(filepath.Join(dir, "state.db"), 0o700))
			return dir
		}, ErrNotWritable},
		{"read-only dir", func(t *testing.T) string {
			if os.Geteuid() == 0 {
				t.Skip("root ignores permission bits")
			}
			dir := t.TempDir()
			mustDo(t, os.Chmod(dir, 0o500))
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return dir
		}, ErrNotWritable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			s, err := Open(dir, testOptions(Options{LockTimeout: 100 * time.Millisecond}))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Open: %v, want it to match %v", err, tt.wantErr)
			}
			for _, want := range []string{dir, "--state.dir"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestMethodsAfterClose(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	mustDo(t, s.Close())
	mustDo(t, s.Close()) // idempotent

	calls := map[string]error{
		"PutMeta":         s.PutMeta("k", nil),
		"RecordCheck":     s.RecordCheck("t", CheckRecord{Check: "c"}),
		"Backup":          s.Backup(),
		"OutboxAck":       s.OutboxAck("slack", 1),
		"DeleteTarget":    s.DeleteTarget("t"),
		"PutRuleState":    s.PutRuleState("t", "r", nil),
		"DeleteRuleState": s.DeleteRuleState("t", "r"),
	}
	_, calls["StartDeployment"] = s.StartDeployment(Deployment{Target: "t", Source: SourceAPI})
	_, _, calls["GetMeta"] = s.GetMeta("k")
	_, calls["Deployments"] = s.Deployments("")
	for name, err := range calls {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*3)
	for w := range workers {
		target := fmt.Sprintf("t%d", w%3)
		wg.Go(func() {
			for i := range each {
				if _, err := s.StartDeployment(Deployment{Target: target, Source: SourceAPI}); err != nil {
					errs <- err
				}
				if err := s.RecordCheck(target, CheckRecord{Check: fmt.Sprintf("w%d", w), Observed: strconv.Itoa(i)}); err != nil {
					errs <- err
				}
				if _, err := s.Deployments(""); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		if err := s.Backup(); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := s.Deployments("")
	if err != nil || len(all) != workers*each {
		t.Errorf("Deployments(\"\") = %d records, %v; want %d", len(all), err, workers*each)
	}
	for _, target := range []string{"t0", "t1", "t2"} {
		if got, _ := s.CheckHistory(target, time.Time{}); len(got) != 2*each {
			t.Errorf("CheckHistory(%s) = %d records, want %d", target, len(got), 2*each)
		}
	}
	checkInvariants(t, s)
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		matches  error
		contains string
	}{
		{"no space", fmt.Errorf("write: %w", syscall.ENOSPC), ErrDiskFull, "is full"},
		{"no space, errno lost by bbolt's %s", errors.New("file resize error: no space left on device"), ErrDiskFull, "free some space"},
		{"quota", syscall.EDQUOT, ErrDiskFull, "is full"},
		{"read-only fs", &os.PathError{Op: "open", Path: "/x/state.db", Err: syscall.EROFS}, ErrNotWritable, "fix the permissions"},
		{"permission denied", syscall.EACCES, ErrNotWritable, "is not writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("/var/lib/stw", tt.err)
			if !errors.Is(err, tt.matches) {
				t.Errorf("classify(%v) = %v, want it to match %v", tt.err, err, tt.matches)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.Contains(err.Error(), "/var/lib/stw") {
				t.Errorf("classify(%v) = %q, want the dir and %q", tt.err, err, tt.contains)
			}
		})
	}
	for _, err := range []error{
		errors.New("something else"),
		fmt.Errorf(`deployment "no space left on device": %w`, ErrExists), // an ID is not an errno
	} {
		if classify("/x", err) != err {
			t.Errorf("classify changed %q", err)
		}
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sameDeployment(a, b Deployment) bool {
	return a.ID == b.ID && a.Target == b.Target && a.Version == b.Version && a.Source == b.Source &&
		a.StartedAt.Equal(b.StartedAt) && a.InstanceStartedAt.Equal(b.InstanceStartedAt)
}

func sameCheck(a, b CheckRecord) bool {
	return a.Check == b.Check && a.At.Equal(b.At) && a.Result == b.Result && a.Observed == b.Observed &&
		a.Expected == b.Expected && a.Reason == b.Reason && a.Duration == b.Duration
}
