package vm

import (
	"strings"
	"testing"
)

func TestParseKernelDepends(t *testing.T) {
	tests := []struct {
		name, out, want, wantErr string
	}{
		{
			name: "bookworm",
			out:  "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n",
			want: "6.1.0-56-cloud-amd64",
		},
		{
			name: "other lines first",
			out:  "linux-image-cloud-amd64\n  Recommends: foo\n  Depends: linux-image-6.12.1-cloud-amd64\n  Depends: bar\n",
			want: "6.12.1-cloud-amd64",
		},
		{name: "virtual package", out: "linux-image-cloud-amd64\n  Depends: <linux-image-x>\n", wantErr: "no \"Depends"},
		{name: "empty", out: "", wantErr: "no \"Depends"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKernelDepends([]byte(tc.out))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
