package main

import (
	"os"
	"strings"
	"testing"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and parentheses: fields are counted from
	// the last ')'. utime 1234, stime 56.
	stat := "4242 (spacetime (x) w) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 9 0 100 123456 789 18446744073709551615\n"
	got, err := parseStatCPU([]byte(stat))
	if err != nil || got != 1290 {
		t.Fatalf("parseStatCPU = %d, %v; want 1290 ticks", got, err)
	}
	if s := got.Seconds(); s != 12.9 {
		t.Errorf("Seconds = %v, want 12.9", s)
	}
	for _, bad := range []string{"", "4242 spacetime S 1", "4242 (w) S 1 2 3", "4242 (w) S 1 2 3 4 5 6 7 8 9 10 x 56"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) = nil error", bad)
		}
	}
	// This process's own stat parses.
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Skip("no /proc")
	}
	if _, err := parseStatCPU(b); err != nil {
		t.Errorf("/proc/self/stat: %v", err)
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tspacetime-watch\nVmPeak:\t  800000 kB\nVmHWM:\t   23900 kB\nVmRSS:\t   21000 kB\n"
	if got, err := parseStatusKiB([]byte(status), "VmHWM"); err != nil || got != 23900 {
		t.Errorf("VmHWM = %d, %v; want 23900", got, err)
	}
	if _, err := parseStatusKiB([]byte(status), "VmSwap"); err == nil || !strings.Contains(err.Error(), "VmSwap") {
		t.Errorf("missing key: %v, want an error naming VmSwap", err)
	}
	if _, err := parseStatusKiB([]byte("VmHWM:\t 12 MB\n"), "VmHWM"); err == nil {
		t.Error("a unit other than kB was accepted")
	}
}

func TestParseLoadavg(t *testing.T) {
	got, err := parseLoadavg([]byte("1.60 3.55 4.14 3/187 2204\n"))
	if err != nil || got != [3]float64{1.60, 3.55, 4.14} {
		t.Errorf("parseLoadavg = %v, %v", got, err)
	}
	if _, err := parseLoadavg([]byte("1.60 x")); err == nil {
		t.Error("a short /proc/loadavg was accepted")
	}
}
