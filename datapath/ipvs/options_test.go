package ipvs

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "zero value", opts: Options{}},
		{name: "mark not one bit", opts: Options{Mark: 0x3000}, wantErr: "Options.Mark 0x3000"},
		{name: "long interface", opts: Options{Interface: "ironlb-much-too-long"}, wantErr: "Options.Interface"},
		{name: "bad prefix", opts: Options{VIPPrefixes: []netip.Prefix{{}}}, wantErr: "Options.VIPPrefixes[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.opts.withDefaults()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Interface != "ironlb0" || o.Table != "ironlb-ipvs" || o.Mark != 0x2000 || o.Now == nil || o.Logger == nil {
				t.Errorf("defaults not filled: %+v", o)
			}
		})
	}
	o, err := Options{VIPPrefixes: []netip.Prefix{netip.MustParsePrefix("203.0.113.77/24")}}.withDefaults()
	if err != nil || o.VIPPrefixes[0] != netip.MustParsePrefix("203.0.113.0/24") {
		t.Errorf("prefix not masked: %v %v", o.VIPPrefixes, err)
	}
}
