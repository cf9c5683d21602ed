package config

import (
	"slices"
	"testing"
)

func TestAllChecks(t *testing.T) {
	want := []CheckName{"instance_up", "health", "status", "telemetry", "scene", "auth", "rate_limit", "whitelist", "performance", "thresholds"}
	got := AllChecks()
	if !slices.Equal(got, want) {
		t.Fatalf("AllChecks() = %v, want %v", got, want)
	}
	for i, c := range got {
		if c.Number() != i+1 || !c.Valid() {
			t.Errorf("%s: Number() = %d, Valid() = %v", c, c.Number(), c.Valid())
		}
	}
	got[0] = "changed"
	if AllChecks()[0] != CheckInstanceUp {
		t.Error("AllChecks() shares its backing array")
	}
	if CheckName("nope").Number() != 0 || CheckName("").Valid() {
		t.Error("unknown names must be invalid")
	}
}

func TestParseCheckName(t *testing.T) {
	tests := []struct{ in, want, wantErr string }{
		{in: "rate_limit", want: "rate_limit"},
		{in: "helth", wantErr: `"helth" is not a check (did you mean health?); valid checks: instance_up, health, status, telemetry, scene, auth, rate_limit, whitelist, performance, thresholds`},
		{in: "Health", wantErr: `"Health" is not a check (did you mean health?); valid checks: instance_up, health, status, telemetry, scene, auth, rate_limit, whitelist, performance, thresholds`},
		{in: "latency", wantErr: `"latency" is not a check; valid checks: instance_up, health, status, telemetry, scene, auth, rate_limit, whitelist, performance, thresholds`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCheckName(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("ParseCheckName(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}
