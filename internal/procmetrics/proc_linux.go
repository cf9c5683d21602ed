//go:build linux

package procmetrics

import (
	"os"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// procCollector reads the process_* series from /proc, through procfs as
// client_golang's collector does, but for the start time, read once, and
// the network namespace's counters, left out. It is safe for concurrent
// scrapes.
type procCollector struct {
	cpu, openFDs, maxFDs, vsize, maxVsize, rss, start *prometheus.Desc

	// pid, not a procfs.Proc: a Proc held in this struct, which becomes a
	// prometheus.Collector, makes the linker keep every exported method of
	// procfs's types for reflection (text/template calls methods by name),
	// 600 KB more binary, and a third of a MiB more resident at one target.
	pid       int
	startTime float64 // seconds since the epoch
	startErr  error   // why the start time could not be read: the series is then left out
}

// newCollector returns the /proc reader. It reads the process's start time
// now, once.
func newCollector() prometheus.Collector {
	c := &procCollector{
		cpu:      prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil),
		openFDs:  prometheus.NewDesc("process_open_fds", "Number of open file descriptors.", nil, nil),
		maxFDs:   prometheus.NewDesc("process_max_fds", "Maximum number of open file descriptors.", nil, nil),
		vsize:    prometheus.NewDesc("process_virtual_memory_bytes", "Virtual memory size in bytes.", nil, nil),
		maxVsize: prometheus.NewDesc("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", nil, nil),
		rss:      prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil),
		start:    prometheus.NewDesc("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", nil, nil),
	}
	c.pid = os.Getpid()
	c.startTime, c.startErr = startTime(c.pid)
	return c
}

// startTime reads the start time of process pid: its start in clock ticks
// after boot, and the boot time from /proc/stat.
func startTime(pid int) (float64, error) {
	p, err := procfs.NewProc(pid)
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
	if c.startErr == nil {
		ch <- prometheus.MustNewConstMetric(c.start, prometheus.GaugeValue, c.startTime)
	}
	if p, err := procfs.NewProc(c.pid); err == nil {
		if st, err := p.Stat(); err == nil {
			ch <- prometheus.MustNewConstMetric(c.cpu, prometheus.CounterValue, st.CPUTime())
			ch <- prometheus.MustNewConstMetric(c.vsize, prometheus.GaugeValue, float64(st.VirtualMemory()))
			ch <- prometheus.MustNewConstMetric(c.rss, prometheus.GaugeValue, float64(st.ResidentMemory()))
		}
		if n, err := p.FileDescriptorsLen(); err == nil {
			ch <- prometheus.MustNewConstMetric(c.openFDs, prometheus.GaugeValue, float64(n))
		}
	}
	// The soft limits, as /proc/self/limits shows them (getrlimit, rather
	// than parsing that file); unlimited is the largest uint64
	// (RLIM_INFINITY), which procfs reports alike.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxFDs, prometheus.GaugeValue, float64(rl.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
		ch <- prometheus.MustNewConstMetric(c.maxVsize, prometheus.GaugeValue, float64(rl.Cur))
	}
}
