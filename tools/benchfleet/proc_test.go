package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// TestReadProc: this process's CPU time, resident memory and the load
// averages read, and say something.
func TestReadProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	busy := 0
	for i := range 20_000_000 { // a few milliseconds of CPU
		busy += i % 7
	}
	cpu, err := readCPU(os.Getpid())
	if err != nil || cpu.Seconds() <= 0 {
		t.Errorf("readCPU = %v, %v (busy %d); want some CPU time", cpu, err, busy)
	}
	m, err := readRSS(os.Getpid())
	if err != nil || m.peak == 0 || m.anon == 0 || m.file == 0 || m.peak < m.anon {
		t.Errorf("readRSS = %+v, %v; want a peak, anonymous and file pages, peak at least the anonymous", m, err)
	}
	if _, err := readLoadavg(); err != nil {
		t.Errorf("readLoadavg: %v", err)
	}
}

// TestReadCPUResolvesMilliseconds: two milliseconds of CPU show, where
// /proc/PID/stat's 10 ms ticks mostly would not. The busy loop spins
// until getrusage (testkit.ProcessCPU) has counted 2 ms of CPU, not 2 ms of
// wall time, which a loaded machine would spend partly descheduled.
func TestReadCPUResolvesMilliseconds(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	runtime.LockOSThread() // the busy loop stays on one thread
	defer runtime.UnlockOSThread()
	before, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	start := testkit.ProcessCPU(t)
	for testkit.ProcessCPU(t)-start < 2*time.Millisecond {
	}
	// The kernel brings a thread's run time up to date when it stops
	// running; the bench reads daemons whose threads sleep between frames.
	// A short sleep is that stop, not a wait for something.
	time.Sleep(time.Millisecond)
	after, err := readCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	spent := testkit.ProcessCPU(t) - start
	// At least the 2 ms counted (1 ms of slack), at most what getrusage
	// counted plus a scheduler tick or two by which the first reading may lag.
	if d := time.Duration((after.Seconds() - before.Seconds()) * 1e9); d < time.Millisecond || d > spent+20*time.Millisecond {
		t.Errorf("readCPU moved by %s while getrusage counted %s, want about that", d, spent)
	}
}

// TestReadCPUSkipsGoneThreads reads a made-up /proc: a thread listed
// without a schedstat (one that exited after the listing) is skipped, the
// others summed; with no schedstat at all the ticks of /proc/PID/stat
// count instead.
func TestReadCPUSkipsGoneThreads(t *testing.T) {
	root := t.TempDir()
	// utime 600 and stime 400 ticks of 1/100 s (fields 14 and 15): 10 s.
	stat := "42 (daemon) S" + strings.Repeat(" 0", 10) + " 600 400" + strings.Repeat(" 0", 37) + "\n"
	for _, tid := range []string{"42", "43", "44"} {
		if err := os.MkdirAll(filepath.Join(root, "42/task", tid), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testkit.WriteFileIn(t, root, "42/stat", stat)
	testkit.WriteFileIn(t, root, "42/task/42/schedstat", "1000000000 0 1\n")
	testkit.WriteFileIn(t, root, "42/task/43/schedstat", "500000000 0 1\n")
	pfs, err := procfs.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readCPUIn(pfs, 42); err != nil || got.Seconds() != 1.5 {
		t.Errorf("readCPUIn with thread 44 gone = %v, %v; want 1.5 s, the others' schedstat", got, err)
	}
	for _, tid := range []string{"42", "43"} {
		if err := os.Remove(filepath.Join(root, "42/task", tid, "schedstat")); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readCPUIn(pfs, 42); err != nil || got.Seconds() != 10 {
		t.Errorf("readCPUIn without schedstat = %v, %v; want 10 s, the ticks of stat", got, err)
	}
}

// TestResetPeakRSS: after this process touched and released 64 MiB, its
// peak RSS reset falls back below that peak.
func TestResetPeakRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		t.Skip("no /proc/self/clear_refs")
	}
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = 1
	}
	before, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(big)
	debug.FreeOSMemory()
	if err := resetPeakRSS(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	after, err := readRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.peak+32<<20 > before.peak {
		t.Errorf("peak RSS %d MiB after the reset, %d MiB before it: want at least 32 MiB less", after.peak>>20, before.peak>>20)
	}
	if err := resetPeakRSS(-1); err == nil {
		t.Error("resetting a process that cannot exist gave no error")
	}
}
