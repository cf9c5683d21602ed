package monitor

import "time"

// sampleRing keeps the latest FPS and memory samples for Window. It is
// allocated once, at the first push, and never grows.
type sampleRing struct {
	buf     []ringSample
	head, n int
	size    int
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

func (r *sampleRing) push(s *Sample) {
	if r.buf == nil {
		r.buf = make([]ringSample, r.size)
	}
	e := ringSample{at: s.At.UnixNano(), fps: s.FPS, mem: s.MemoryMB}
	if s.HasFPS {
		e.has |= ringHasFPS
	}
	if s.HasMemory {
		e.has |= ringHasMemory
	}
	i := r.head + r.n
	if i >= r.size {
		i -= r.size
	}
	r.buf[i] = e
	if r.n < r.size {
		r.n++
	} else if r.head++; r.head == r.size {
		r.head = 0
	}
}

// since returns, oldest first, the samples taken at or after from (Unix ns).
func (r *sampleRing) since(from int64) []Sample {
	k := 0 // samples to return, counted from the newest
	for k < r.n && r.buf[(r.head+r.n-1-k)%r.size].at >= from {
		k++
	}
	out := make([]Sample, k)
	for i := range k {
		e := r.buf[(r.head+r.n-k+i)%r.size]
		out[i] = Sample{
			At:  time.Unix(0, e.at),
			FPS: e.fps, HasFPS: e.has&ringHasFPS != 0,
			MemoryMB: e.mem, HasMemory: e.has&ringHasMemory != 0,
		}
	}
	return out
}
