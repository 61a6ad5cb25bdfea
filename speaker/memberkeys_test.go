package main

import (
	"strings"
	"testing"
)

func TestParseMemberKeys(t *testing.T) {
	k1, k2 := strings.Repeat("a", 64), strings.Repeat("b", 64)
	for _, tc := range []struct {
		name, text string
		want       []string
		err        string
	}{
		{"one key with a newline", k1 + "\n", []string{k1}, ""},
		{"rotation: two lines", k2 + "\n" + k1 + "\n", []string{k2, k1}, ""},
		{"blank lines and spaces", "\n  " + k1 + " \n\n" + k2, []string{k1, k2}, ""},
		{"empty", " \n", nil, "no key"},
		{"short key", k1 + "\nshort\n", nil, "key 2: 5 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMemberKeys(tc.text)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "short\n") {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, k := range got {
				s = append(s, string(k))
			}
			if strings.Join(s, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", s, tc.want)
			}
		})
	}
}
