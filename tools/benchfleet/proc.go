package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/prometheus/procfs"
)

// procCPU is a process's CPU time, user and system, in seconds.
type procCPU float64

// Seconds is the CPU time in seconds.
func (c procCPU) Seconds() float64 { return float64(c) }

// readCPU returns pid's CPU time so far, user and system: the sum of its
// threads' run times in /proc/PID/task/*/schedstat, in nanoseconds, where
// /proc/PID/stat counts 10 ms ticks (a one-target daemon uses a handful of
// ticks in a 30 s window). A Go program's threads live as long as it does,
// so the sum misses nothing.
func readCPU(pid int) (procCPU, error) {
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0, err
	}
	return readCPUIn(pfs, pid)
}

// readCPUIn is readCPU on the proc file system pfs. A thread that exits
// between the listing and its schedstat is skipped. Only when no thread's
// schedstat could be read (a kernel built without it) does it fall back to
// the ticks of /proc/PID/stat.
func readCPUIn(pfs procfs.FS, pid int) (procCPU, error) {
	if threads, err := pfs.AllThreads(pid); err == nil {
		var ns uint64
		read := 0
		for _, t := range threads {
			st, err := t.Schedstat()
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
				continue // the thread is gone, or there is no schedstat
			}
			if err != nil {
				read = 0
				break
			}
			ns += st.RunningNanoseconds
			read++
		}
		if read > 0 {
			return procCPU(float64(ns) / 1e9), nil
		}
	}
	p, err := pfs.Proc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return procCPU(st.CPUTime()), nil
}

// rss is a process's resident memory, in bytes, from /proc/PID/status.
type rss struct {
	peak uint64 // VmHWM
	anon uint64 // RssAnon now: heap, stacks
	file uint64 // RssFile now: the binary's pages
}

// readRSS returns pid's resident memory.
func readRSS(pid int) (rss, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return rss{}, err
	}
	s, err := p.NewStatus()
	if err != nil {
		return rss{}, err
	}
	return rss{peak: s.VmHWM, anon: s.RssAnon, file: s.RssFile}, nil
}

// readLoadavg returns the machine's 1, 5 and 15 minute load averages.
func readLoadavg() ([3]float64, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return [3]float64{}, err
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return [3]float64{}, err
	}
	return [3]float64{l.Load1, l.Load5, l.Load15}, nil
}

// resetPeakRSS sets pid's VmHWM back to its RSS now (writing "5" to
// /proc/PID/clear_refs, Linux 4.0 on; the process's owner or root), so
// that a later readRSS's peak is the peak since this call.
func resetPeakRSS(pid int) error {
	path := fmt.Sprintf("/proc/%d/clear_refs", pid)
	if err := os.WriteFile(path, []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak RSS (VmHWM) of process %d: %w (run as root or as the process's owner, on Linux 4.0 or later)", pid, err)
	}
	return nil
}
