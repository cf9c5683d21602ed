package alert

import (
	"net/http"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestParseRetryAfter(t *testing.T) {
	now := testkit.BaseTime(t)
	cases := []struct {
		name, header string
		want         time.Duration
	}{
		{"empty", "", 0},
		{"seconds", " 30 ", 30 * time.Second},
		{"fraction", "1.5", 1500 * time.Millisecond},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"not a number", "NaN", 0},
		{"huge is capped", "99999999999999", maxRetryAfter},
		{"infinite is capped", "+Inf", maxRetryAfter},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"date far ahead is capped", now.AddDate(0, 0, 3).Format(http.TimeFormat), maxRetryAfter},
		{"date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.header, now); got != tc.want {
				t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.header, got, tc.want)
			}
		})
	}
}
