package textwrap

import (
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	cases := []struct {
		text  string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"a  b\tc", 10, []string{"a b c"}},
		{"the quick brown fox", 9, []string{"the quick", "brown fox"}},
		{"≥95% of samples in 85–95", 10, []string{"≥95% of", "samples in", "85–95"}},
		{"--performance-token-file)", 10, []string{"--performa", "nce-token-", "file)"}},
	}
	for _, c := range cases {
		if got := Lines(c.text, c.width); !slices.Equal(got, c.want) {
			t.Errorf("Lines(%q, %d) = %q, want %q", c.text, c.width, got, c.want)
		}
	}
}

func TestIndent(t *testing.T) {
	got := Indent("FPS drops to 60 because a scene is heavy", "T+0:10  ", "        ", 24)
	want := "T+0:10  FPS drops to 60\n        because a scene\n        is heavy\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
