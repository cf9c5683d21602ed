package store

import (
	"testing"
)

func TestRuleState(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	v := []byte(`{"failures":1}`)
	mustDo(t, s.PutRuleState("vr", "fps", v))
	v[2] = 'X' // the store keeps its own copy
	mustDo(t, s.PutRuleState("vr", "memory", nil))
	mustDo(t, s.PutRuleState("vr", "fps", []byte(`{"failures":2}`)))
	mustDo(t, s.PutRuleState("other", "fps", []byte("o")))

	got, err := s.RuleStates("vr")
	mustDo(t, err)
	if len(got) != 2 || string(got["fps"]) != `{"failures":2}` || got["memory"] == nil || len(got["memory"]) != 0 {
		t.Errorf("RuleStates(vr) = %q, want fps overwritten and memory empty", got)
	}
	mustDo(t, s.DeleteRuleState("vr", "fps"))
	mustDo(t, s.DeleteRuleState("vr", "never"))
	mustDo(t, s.DeleteRuleState("nobody", "fps"))
	if got, _ := s.RuleStates("vr"); len(got) != 1 {
		t.Errorf("after delete: %q", got)
	}
	if got, err := s.RuleStates("nobody"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("RuleStates(nobody) = %v, %v; want an empty map", got, err)
	}
	if err := s.PutRuleState("vr", "", nil); err == nil {
		t.Errorf("empty rule name accepted")
	}
}

func TestMeta(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	mustDo(t, s.PutMeta("a", []byte("1")))
	mustDo(t, s.PutMeta("empty", nil))
	mustDo(t, s.PutMeta("ab", []byte("2")))

	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"a", "1", true},
		{"ab", "2", true},
		{"empty", "", true},
		{"aa", "", false}, // sorts between a and ab
		{"zzz", "", false},
	}
	for _, tt := range tests {
		got, ok, err := s.GetMeta(tt.key)
		if err != nil || ok != tt.wantOK || string(got) != tt.want {
			t.Errorf("GetMeta(%q) = %q, %v, %v; want %q, %v", tt.key, got, ok, err, tt.want, tt.wantOK)
		}
	}
	mustDo(t, s.DeleteMeta("a"))
	if _, ok, _ := s.GetMeta("a"); ok {
		t.Errorf("deleted key still there")
	}
	if err := s.PutMeta("", []byte("x")); err == nil {
		t.Errorf("empty key accepted")
	}
}
