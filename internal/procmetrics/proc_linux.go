//go:build linux

package procmetrics

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// procCollector reads the process_* series from /proc. It is safe for
// concurrent scrapes.
type procCollector struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, start *prometheus.Desc

	startTime float64 // seconds since the epoch; read once
	pageSize  float64
	ticks     float64 // clock ticks per second, for /proc/self/stat's CPU times

	mu      sync.Mutex // guards buf and fdBuf, reused by every scrape
	buf     []byte
	fdBuf   []byte
	statErr error // why the start time could not be read: the series is then left out
}

// newCollector returns the /proc reader. It reads the process's start time
// now, once.
func newCollector() prometheus.Collector { return newProcCollector() }

func newProcCollector() *procCollector {
	c := &procCollector{
		cpu:      prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil),
		openFDs:  prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil),
		maxFDs:   prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil),
		vsize:    prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil),
		maxVsize: prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil),
		rss:      prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil),
		start:    prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil),
		pageSize: float64(os.Getpagesize()),
		ticks:    userHZ,
		buf:      make([]byte, 0, 1024),
		fdBuf:    make([]byte, 4096),
	}
	c.startTime, c.statErr = startTime()
	return c
}

// userHZ is the kernel's USER_HZ, the unit of /proc/self/stat's CPU
// times: 100 on every Linux architecture Go supports (procfs assumes the
// same).
const userHZ = 100

// startTime reads the process's start time from /proc: its start in clock
// ticks after boot, and the boot time from /proc/stat.
func startTime() (float64, error) {
	p, err := procfs.Self()
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return st.StartTime()
}

// Describe sends the descriptors of every series.
func (c *procCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.openFDs, c.maxFDs, c.vsize, c.maxVsize, c.rss, c.start} {
		ch <- d
	}
}

// Collect reads the process's figures and sends them. A figure that cannot
// be read is left out, as client_golang's collector does by default: the
// process metrics are a mix-in, and a scrape must not fail for them.
func (c *procCollector) Collect(ch chan<- prometheus.Metric) {
	if c.statErr == nil {
		ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, c.startTime)
	}
	// The soft limits, as /proc/self/limits shows them; unlimited is the
	// largest uint64 (RLIM_INFINITY), which procfs reports alike.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxFDs, prometheus.GaugeValue, float64(rl.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxVsize, prometheus.GaugeValue, float64(rl.Cur))
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if s, err := c.readStat(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, float64(s.utime+s.stime)/c.ticks)
		ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, float64(s.vsize))
		ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(s.rss)*c.pageSize)
	}
	if n, err := c.countFDs(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.openFDs, prometheus.GaugeValue, float64(n))
	}
}

// stat is what Collect uses of /proc/self/stat.
type stat struct {
	utime, stime, vsize, rss uint64
}

// readStat reads /proc/self/stat into c.buf and parses it.
func (c *procCollector) readStat() (stat, error) {
	f, err := os.Open("/proc/self/stat")
	if err != nil {
		return stat{}, err
	}
	defer func() { _ = f.Close() }()
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := f.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return stat{}, err
		}
	}
	return parseStat(c.buf)
}

// parseStat parses a /proc/PID/stat line (proc(5)). The command name, the
// second field, is in parentheses and may hold spaces and parentheses of
// its own, so the fields are counted from the last ')'.
func parseStat(b []byte) (stat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return stat{}, errors.New("/proc/self/stat: no ')' after the command name")
	}
	// Fields after the command name, numbered as proc(5) numbers them:
	// the state is field 3.
	var s stat
	field := 2
	for rest := b[end+1:]; len(rest) > 0; {
		rest = bytes.TrimLeft(rest, " ")
		i := bytes.IndexAny(rest, " \n")
		if i < 0 {
			i = len(rest)
		}
		tok := rest[:i]
		rest = rest[i:]
		if len(tok) == 0 {
			break
		}
		field++
		var dst *uint64
		switch field {
		case 14:
			dst = &s.utime
		case 15:
			dst = &s.stime
		case 23:
			dst = &s.vsize
		case 24:
			dst = &s.rss
		default:
			continue
		}
		v, err := strconv.ParseUint(string(tok), 10, 64)
		if err != nil {
			return stat{}, fmt.Errorf("/proc/self/stat field %d: %w", field, err)
		}
		*dst = v
		if field == 24 {
			return s, nil
		}
	}
	return stat{}, fmt.Errorf("/proc/self/stat has %d fields, want at least 24", field)
}

// countFDs counts the entries of /proc/self/fd, reading its directory
// records into c.fdBuf without making a string of each name. The
// descriptor of the directory itself is among them, as it is in
// client_golang's count.
func (c *procCollector) countFDs() (int, error) {
	f, err := os.Open("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	raw, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	n := 0
	var readErr error
	err = raw.Read(func(fd uintptr) bool {
		for {
			got, err := syscall.ReadDirent(int(fd), c.fdBuf)
			if err != nil {
				readErr = err
				return true
			}
			if got <= 0 {
				return true
			}
			n += countDirents(c.fdBuf[:got])
		}
	})
	return n, errors.Join(err, readErr)
}

// countDirents counts the records in buf, a run of linux_dirent64 records
// as getdents64 returns them, leaving out "." and "..".
func countDirents(buf []byte) int {
	const (
		reclenOff = 16 // after d_ino and d_off, 8 bytes each
		nameOff   = 19 // after d_reclen (2 bytes) and d_type (1 byte)
	)
	n := 0
	for len(buf) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[reclenOff:]))
		if reclen < nameOff || reclen > len(buf) {
			break
		}
		name := buf[nameOff:reclen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) != "." && string(name) != ".." {
			n++
		}
		buf = buf[reclen:]
	}
	return n
}
