package spacetime

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{
			name: "defaults without jitter drawn: doubling from 1s, capped at 60s",
			b:    Backoff{Rand: func() float64 { return 0 }},
			want: seconds(1, 2, 4, 8, 16, 32, 60, 60, 60),
		},
		{
			name: "largest jitter drawn: 20% shorter, cap still a ceiling",
			b:    Backoff{Rand: func() float64 { return 1 }},
			want: seconds(0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 48, 48),
		},
		{
			name: "custom bounds and factor, half jitter",
			b:    Backoff{Min: 100 * time.Millisecond, Max: time.Second, Factor: 3, Jitter: 0.5, Rand: func() float64 { return 0.5 }},
			want: seconds(0.075, 0.225, 0.675, 0.75, 0.75),
		},
		{
			name: "negative jitter means none; Min above Max yields Max",
			b:    Backoff{Min: 5 * time.Second, Max: 2 * time.Second, Jitter: -1, Rand: func() float64 { return 0.9 }},
			want: seconds(2, 2),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			for n, want := range tt.want {
				if got := b.Next(); got != want {
					t.Fatalf("delay %d = %s, want %s", n, got, want)
				}
			}
			if b.Attempt() != len(tt.want) {
				t.Errorf("Attempt() = %d, want %d", b.Attempt(), len(tt.want))
			}
			b.Reset()
			if got := b.Next(); got != tt.want[0] {
				t.Errorf("after Reset: %s, want %s", got, tt.want[0])
			}
		})
	}
}

func seconds(s ...float64) []time.Duration {
	d := make([]time.Duration, len(s))
	for i, v := range s {
		d[i] = time.Duration(math.Round(v * 1e9))
	}
	return d
}

func TestBackoffJitterBounds(t *testing.T) {
	var b Backoff // real randomness
	seen := map[time.Duration]bool{}
	for i := range 2000 {
		if i%10 == 0 {
			b.Reset()
		}
		n := b.Attempt()
		base := min(time.Second<<n, 60*time.Second)
		d := b.Next()
		if d > base || d < base*8/10 {
			t.Fatalf("attempt %d: %s outside [%s, %s]", n, d, base*8/10, base)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays in 2000: no jitter?", len(seen))
	}
}

// TestBackoffOutageBudget is docs/reliability.md §9: during a ten-minute outage
// even the shortest delays allow at most 20 attempts.
func TestBackoffOutageBudget(t *testing.T) {
	b := Backoff{Rand: func() float64 { return 0.999999 }}
	var elapsed time.Duration
	attempts := 0
	for elapsed < 10*time.Minute {
		attempts++
		elapsed += b.Next()
	}
	if attempts > 20 {
		t.Errorf("%d attempts in ten minutes, want ≤ 20", attempts)
	}
}

func TestBackoffWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := Backoff{Min: 10 * time.Second, Rand: func() float64 { return 0 }}
		start := time.Now()
		if err := b.Wait(context.Background()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("waited %s, want 10s", waited)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start = time.Now()
		if err := b.Wait(ctx); err != context.DeadlineExceeded {
			t.Errorf("Wait with a context ending first = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("cancelled Wait took %s, want 3s", waited)
		}
	})
}
