package main

import (
	"os"
	"testing"
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
