package monitor

import "time"

// sampleRing keeps the FPS and memory samples of the last span, at most
// limit of them. It starts empty and grows (doubling) only while the
// samples within span outnumber its room, so that its size follows the
// stream's rate: 15 minutes of 10 Hz telemetry for every target made
// per-target memory the daemon's largest cost.
type sampleRing struct {
	buf     []ringSample
	head, n int
	span    int64 // Unix ns: samples older than the newest by more are dropped
	limit   int   // most samples kept, whatever the span
}

// ringSample is a Sample in 32 bytes.
type ringSample struct {
	at       int64 // Unix nanoseconds
	fps, mem float64
	has      uint8
}

const (
	ringHasFPS uint8 = 1 << iota
	ringHasMemory
)

// ringMinSize is the room of a ring's first allocation.
const ringMinSize = 16

func (r *sampleRing) push(s *Sample) {
	e := ringSample{at: s.At.UnixNano(), fps: s.FPS, mem: s.MemoryMB}
	if s.HasFPS {
		e.has |= ringHasFPS
	}
	if s.HasMemory {
		e.has |= ringHasMemory
	}
	for r.n > 0 && r.buf[r.head].at < e.at-r.span {
		r.drop()
	}
	if r.n == len(r.buf) {
		if len(r.buf) < r.limit {
			r.grow()
		} else {
			r.drop()
		}
	}
	i := r.head + r.n
	if i >= len(r.buf) {
		i -= len(r.buf)
	}
	r.buf[i] = e
	r.n++
}

// drop forgets the oldest sample.
func (r *sampleRing) drop() {
	if r.head++; r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
}

// grow doubles the room, up to limit, keeping the samples in order.
func (r *sampleRing) grow() {
	buf := make([]ringSample, min(max(2*len(r.buf), ringMinSize), r.limit))
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}

// since returns, oldest first, the samples taken at or after from (Unix ns).
func (r *sampleRing) since(from int64) []Sample {
	size := len(r.buf)
	k := 0 // samples to return, counted from the newest
	for k < r.n && r.buf[(r.head+r.n-1-k)%size].at >= from {
		k++
	}
	out := make([]Sample, k)
	for i := range k {
		e := r.buf[(r.head+r.n-k+i)%size]
		out[i] = Sample{
			At:  time.Unix(0, e.at),
			FPS: e.fps, HasFPS: e.has&ringHasFPS != 0,
			MemoryMB: e.mem, HasMemory: e.has&ringHasMemory != 0,
		}
	}
	return out
}
