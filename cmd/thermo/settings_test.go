package main

import (
	"slices"
	"testing"
)

// A flag beats its environment variable, which beats the default; errors
// name whichever the user set.
func TestSettingPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       env
		args      []string
		want      string
		wantNamed string
	}{
		{"default", env{}, nil, "info", envLogLevel},
		{"env", env{envLogLevel: "debug"}, nil, "debug", envLogLevel},
		{"flag", env{envLogLevel: "debug"}, []string{"--log-level", "warn"}, "warn", "--log-level"},
		{"empty env is unset", env{envLogLevel: ""}, nil, "info", envLogLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFlags("thermo test", "", "", tt.env.getenv)
			s := f.setting(envLogLevel)
			if _, err := f.parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if s.Value != tt.want || s.name() != tt.wantNamed {
				t.Errorf("value %q named %s, want %q named %s", s.Value, s.name(), tt.want, tt.wantNamed)
			}
		})
	}
}

// Positional arguments may sit between flags; after -- everything is
// positional.
func TestParseInterspersed(t *testing.T) {
	t.Parallel()
	f := newFlags("thermo test", "", "", env{}.getenv)
	x := f.fs.String("x", "", "")
	pos, err := f.parse([]string{"a", "--x", "1", "b", "--", "--c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if *x != "1" || !slices.Equal(pos, []string{"a", "b", "--c", "d"}) {
		t.Errorf("x = %q, positional = %q", *x, pos)
	}
}
