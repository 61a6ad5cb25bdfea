package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestRenderParseRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rows []row
	}{
		{"empty", nil},
		{"ok and failed", []row{
			{Service: "demo/web", Policy: "Cluster", IP: "203.0.113.1", Pool: "lab-l2", Mode: "L2",
				Announcers: []string{"node1"}, OK: true, Pod: "web-a", Source: "198.51.100.11 (node1)"},
			{Service: "demo/web", Policy: "Cluster", IP: "2001:db8:300::", Pool: "lab-l2", Mode: "L2",
				Announcers: []string{"node1", "node2"}, OK: true, Pod: "web-b", Source: "2001:db8:100::11"},
			{Service: "demo/web-local", Policy: "Local", IP: "203.0.113.2", Pool: "lab-l2", Mode: "L2",
				Err: "dial tcp 203.0.113.2:80: i/o timeout"},
			{Service: "other/pending", Policy: "Cluster", IP: "-", Err: "no address assigned yet"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := render(&b, tt.rows); err != nil {
				t.Fatal(err)
			}
			out := "lab: ready\n\n" + b.String() + "\nkubeconfig: /x\n"
			got, err := parseTable(out)
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, out)
			}
			// What the table cannot carry: the error text goes below it.
			want := make([]row, 0, len(tt.rows))
			for _, r := range tt.rows {
				if r.Err != "" && !strings.Contains(out, r.Err) {
					t.Errorf("error %q of %s not printed", r.Err, r.IP)
				}
				r.Err, r.Note = "", ""
				want = append(want, r)
			}
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v\n%s", got, want, out)
			}
		})
	}
}

func TestParseTableWithoutHeader(t *testing.T) {
	if _, err := parseTable("lab: the lab daemon exited during startup\n"); err == nil {
		t.Fatal("no error for output without a table")
	}
}
