package config

import "testing"

func TestTokenRefDescribe(t *testing.T) {
	tests := []struct {
		name string
		ref  TokenRef
		want string
		zero bool
	}{
		{"file", TokenRef{File: "/run/credentials/x/api-token"}, "file /run/credentials/x/api-token", false},
		{"env", TokenRef{Env: "SPACETIME_TOKEN"}, "env SPACETIME_TOKEN", false},
		{"none", TokenRef{}, "none", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ref.Describe(); got != tt.want {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
			if tt.ref.IsZero() != tt.zero {
				t.Errorf("IsZero() = %v, want %v", tt.ref.IsZero(), tt.zero)
			}
		})
	}
}
