package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// clockTicksPerSecond is USER_HZ, the unit of utime and stime in
// /proc/PID/stat: 100 on every Linux architecture Go supports.
const clockTicksPerSecond = 100

// procCPU is a process's CPU time, user and system, in clock ticks.
type procCPU uint64

// Seconds converts ticks to seconds.
func (c procCPU) Seconds() float64 { return float64(c) / clockTicksPerSecond }

// parseStatCPU reads utime+stime from the contents of /proc/PID/stat. The
// command name (field 2) is in parentheses and may hold spaces or
// parentheses itself, so the fields are counted from its last ')'.
func parseStatCPU(stat []byte) (procCPU, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no ')' after the command name", truncate(stat))
	}
	// After ")": field 3 (state) onwards; utime is field 14, stime 15.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc stat %q: %d fields after the command name, want at least 13", truncate(stat), len(f))
	}
	utime, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat utime %q: %w", f[11], err)
	}
	stime, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc stat stime %q: %w", f[12], err)
	}
	return procCPU(utime + stime), nil
}

// parseStatusKiB reads one "Key:   1234 kB" line of /proc/PID/status.
func parseStatusKiB(status []byte, key string) (uint64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("/proc status %s: %q, want \"<n> kB\"", key, strings.TrimSpace(rest))
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, fmt.Errorf("/proc status: no %s line", key)
}

// parseLoadavg reads the 1, 5 and 15 minute load averages of /proc/loadavg.
func parseLoadavg(b []byte) ([3]float64, error) {
	var l [3]float64
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return l, fmt.Errorf("/proc/loadavg %q: want three load averages", truncate(b))
	}
	for i := range l {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return l, fmt.Errorf("/proc/loadavg field %d: %w", i+1, err)
		}
		l[i] = v
	}
	return l, nil
}

// readCPU returns pid's CPU time so far.
func readCPU(pid int) (procCPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// readPeakRSS returns pid's peak resident set (VmHWM), in bytes.
func readPeakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	kib, err := parseStatusKiB(b, "VmHWM")
	return kib << 10, err
}

// readRSSParts returns the process's resident memory now, split into
// anonymous (heap, stacks) and file-backed (the binary's pages) bytes.
func readRSSParts(pid int) (anon, file uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	a, err := parseStatusKiB(b, "RssAnon")
	if err != nil {
		return 0, 0, err
	}
	f, err := parseStatusKiB(b, "RssFile")
	return a << 10, f << 10, err
}

// readLoadavg returns the machine's load averages.
func readLoadavg() ([3]float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return [3]float64{}, err
	}
	return parseLoadavg(b)
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
