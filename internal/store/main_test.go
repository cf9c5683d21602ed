package store

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

// The crash and lock tests need a second process. They re-execute this
// test binary with helperEnv set; TestMain then runs the helper instead of
// the tests.
const (
	helperEnv    = "STORE_TEST_HELPER"
	helperDirEnv = "STORE_TEST_DIR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperDirEnv)))
	}
	goleak.VerifyTestMain(m)
}

// helperProc is a running helper process; its stdout lines arrive on lines.
type helperProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{} // closed when stdout is drained

	waitOnce sync.Once
	waitErr  error
}

func startHelper(t *testing.T, mode, dir string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", mode, err)
	}
	h := &helperProc{cmd: cmd, stdin: stdin, lines: make(chan string, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		defer close(h.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		h.wait()
	})
	return h
}

// next returns the helper's next line, failing the test after timeout.
func (h *helperProc) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			t.Fatalf("helper exited before writing a line")
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("helper wrote nothing for %v", timeout)
	}
	return ""
}

// wait reaps the process and drains its output; later calls return the
// first call's result.
func (h *helperProc) wait() error {
	h.waitOnce.Do(func() {
		h.waitErr = h.cmd.Wait() // closes stdout once the process is gone
		for range h.lines {      // unblock the reader so that it sees EOF
		}
		<-h.done
	})
	return h.waitErr
}

func runHelper(mode, dir string) int {
	var err error
	switch mode {
	case "hold":
		err = helperHold(dir)
	case "write-loop":
		err = helperWriteLoop(dir)
	case "fsize":
		err = helperFileSizeLimit(dir)
	case "fsize-rollups":
		err = helperRollupsFileSizeLimit(dir)
	case "append-all":
		err = helperAppendAll(dir)
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperHold opens the store, says "ready", and holds it until stdin closes.
func helperHold(dir string) error {
	s, err := Open(dir, testOptions(Options{}))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return s.Close()
}

// crashOptions keep the logs short so that the write loop trims on every
// iteration: trimming is where a torn transaction would show.
var crashOptions = Options{DeploymentHistory: 5, CheckHistory: 12}

// helperWriteLoop writes until killed. Iteration i starts deployment
// "d-<i>", records three checks observing i in one call, then sets meta
// "last" to i, and prints i once all three calls returned.
func helperWriteLoop(dir string) error {
	s, err := Open(dir, testOptions(crashOptions))
	if err != nil {
		return err
	}
	start := 0
	if v, ok, err := s.GetMeta("last"); err != nil {
		return err
	} else if ok {
		last, _ := strconv.Atoi(string(v))
		start = last + 1
	}
	// A kill may have cut the previous run between its calls: redo only
	// what iteration start is missing.
	cur, _, err := s.CurrentDeployment("t")
	if err != nil {
		return err
	}
	hist, err := s.CheckHistory("t", time.Time{})
	if err != nil {
		return err
	}
	for i := start; ; i++ {
		obs := strconv.Itoa(i)
		if i > start || cur.ID != "d-"+obs {
			if _, err := s.StartDeployment(Deployment{ID: "d-" + obs, Target: "t", Source: SourceAPI}); err != nil {
				return err
			}
		}
		if i > start || len(hist) == 0 || hist[len(hist)-1].Observed != obs {
			err := s.RecordCheck("t",
				CheckRecord{Check: "a", Result: ResultPass, Observed: obs},
				CheckRecord{Check: "b", Result: ResultPass, Observed: obs},
				CheckRecord{Check: "c", Result: ResultPass, Observed: obs})
			if err != nil {
				return err
			}
		}
		if err := s.PutMeta("last", []byte(obs)); err != nil {
			return err
		}
		fmt.Println(i)
	}
}

// helperFileSizeLimit makes writes fail as on a full disk: RLIMIT_FSIZE
// at the file's current size makes growing it fail with EFBIG. It prints
// the failed write's error, lifts the limit, and writes again.
func helperFileSizeLimit(dir string) error {
	s, err := Open(dir, testOptions(Options{}))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.PutMeta("before", []byte("ok")); err != nil {
		return err
	}
	restore, err := limitFileSize(s.path)
	if err != nil {
		return err
	}
	err = s.PutMeta("big", make([]byte, 4<<20))
	if err == nil {
		return fmt.Errorf("writing 4 MiB past RLIMIT_FSIZE succeeded")
	}
	fmt.Println("ERR", err)
	if err := restore(); err != nil {
		return err
	}
	if err := s.PutMeta("after", []byte("ok")); err != nil {
		return fmt.Errorf("write after the failed one: %w", err)
	}
	fmt.Println("OK")
	return nil
}

// limitFileSize caps the size of files this process writes at path's
// current size (testkit.LimitFileSize): a full disk for the next write
// that grows it.
func limitFileSize(path string) (restore func() error, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return testkit.LimitFileSize(fi.Size())
}

// helperRollupTargets is how many targets helperRollupsFileSizeLimit
// writes; helperRollupNow is its store's clock.
const helperRollupTargets = 200

func helperRollupNow() time.Time { return testkit.MainBase() }

// helperRollupsFileSizeLimit writes minute 0 of helperRollupTargets
// targets, then minutes 1 to 6 of each in one batch (1.2 MB) past
// RLIMIT_FSIZE: it prints the failed batch's error, fails unless every
// target still has minute 0 alone, lifts the limit, writes the batch again
// and prints OK.
func helperRollupsFileSizeLimit(dir string) error {
	s, err := Open(dir, testOptions(Options{Now: helperRollupNow}))
	if err != nil {
		return err
	}
	defer s.Close()
	t0 := helperRollupNow()
	if err := s.PutRollupsMany(rollupBatch(t0, helperRollupTargets, 0, 1, MaxRollupBytes)); err != nil {
		return err
	}
	restore, err := limitFileSize(s.path)
	if err != nil {
		return err
	}
	batch := rollupBatch(t0, helperRollupTargets, 1, 7, MaxRollupBytes)
	if err := s.PutRollupsMany(batch); err == nil {
		return fmt.Errorf("a batch of %d targets past RLIMIT_FSIZE succeeded", len(batch))
	} else {
		fmt.Println("ERR", err)
	}
	if err := restore(); err != nil {
		return err
	}
	for target := range batch {
		got, err := s.Rollups(target, time.Time{}, time.Time{})
		if err != nil {
			return err
		}
		if len(got) != 1 {
			return fmt.Errorf("after the failed batch %s has %d rollups, want minute 0 alone", target, len(got))
		}
	}
	if err := s.PutRollupsMany(batch); err != nil {
		return fmt.Errorf("the batch again after the failure: %w", err)
	}
	fmt.Println("OK")
	return nil
}

// testOptions returns o over the daemon's bounds (config.Store*): a zero
// bound in o takes the config's, so that a test names only what it is
// about. (Other packages' tests have storetest.Options, which the store's
// own cannot import.)
func testOptions(o Options) Options {
	o.LockTimeout = cmp.Or(o.LockTimeout, config.StoreLockTimeout)
	o.DeploymentHistory = cmp.Or(o.DeploymentHistory, config.StoreDeploymentHistory)
	o.CheckHistory = cmp.Or(o.CheckHistory, config.StoreCheckHistory)
	o.CheckRetention = cmp.Or(o.CheckRetention, config.StoreCheckRetention)
	o.DeadLetters = cmp.Or(o.DeadLetters, config.StoreDeadLetters)
	o.RollupRetention = cmp.Or(o.RollupRetention, config.StoreRollupRetention)
	o.RollupHistory = cmp.Or(o.RollupHistory, config.StoreRollupHistory)
	return o
}

// openT opens a store in dir with o over the config's bounds
// (testOptions) and closes it when the test ends.
func openT(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, testOptions(o))
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// checkInvariants fails the test unless the file is consistent: bbolt's
// own check passes, every log's count matches its records, and the
// deployment ID index and the deployment records point at each other.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		for _, name := range logBuckets {
			p := tx.Bucket(name)
			err := p.ForEachBucket(func(owner []byte) error {
				b := p.Bucket(owner)
				if n := b.Stats().KeyN; uint64(n) != b.Sequence() {
					return fmt.Errorf("%s/%s holds %d records, counted %d", name, owner, n, b.Sequence())
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		ids := tx.Bucket(bucketDeploymentIDs)
		indexed := 0
		err := ids.ForEach(func(id, v []byte) error {
			indexed++
			seq, target, err := decodeDeploymentIndex(v)
			if err != nil {
				return err
			}
			b := ownerBucket(tx, bucketDeployments, target)
			if b == nil || b.Get(seqKey(seq)) == nil {
				return fmt.Errorf("index entry %s points at a missing record", id)
			}
			d, err := decodeDeployment(b.Get(seqKey(seq)))
			if err != nil || d.ID != string(id) {
				return fmt.Errorf("index entry %s points at %+v (%v)", id, d, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		records := 0
		p := tx.Bucket(bucketDeployments)
		p.ForEachBucket(func(k []byte) error {
			records += p.Bucket(k).Stats().KeyN
			return nil
		})
		if records != indexed {
			return fmt.Errorf("%d deployment records, %d index entries", records, indexed)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("invariants: %v", err)
	}
}
