package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAnswer(t *testing.T) {
	tests := []struct {
		line    string
		want    answer
		wantErr bool
	}{
		{line: "web-a 198.51.100.11:40000\n", want: answer{"web-a", netip.MustParseAddr("198.51.100.11")}},
		{line: "web-b [2001:db8:100::11]:40000\n", want: answer{"web-b", netip.MustParseAddr("2001:db8:100::11")}},
		{line: "web-c [::ffff:198.51.100.101]:1\n", want: answer{"web-c", netip.MustParseAddr("198.51.100.101")}},
		{line: "web-a\n", wantErr: true},
		{line: "web-a 198.51.100.11\n", wantErr: true},
		{line: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseAnswer(tt.line)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseAnswer(%q) error %v, want error %v", tt.line, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseAnswer(%q) = %+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	names := map[string]string{"198.51.100.101": "client1", "2001:db8:100::11": "node1"}
	tests := []struct {
		addr, want string
	}{
		{"198.51.100.101", "198.51.100.101 (client1)"},
		{"2001:db8:100::11", "2001:db8:100::11 (node1)"},
		{"192.0.2.1", "192.0.2.1"},
	}
	for _, tt := range tests {
		if got := describe(netip.MustParseAddr(tt.addr), names); got != tt.want {
			t.Errorf("describe(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestHTTPAsker: the cluster lab's test server answers HTTP with the same
// "<pod> <client>" line; a status other than 200 is an error naming it.
func TestHTTPAsker(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "web-5bff5558b7-j8wbz %s\n", r.RemoteAddr)
	}))
	defer srv.Close()
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	ask := httpAsker((&net.Dialer{}).DialContext)
	a, err := ask(context.Background(), ap.Addr(), ap.Port())
	if err != nil {
		t.Fatal(err)
	}
	if a.Pod != "web-5bff5558b7-j8wbz" || a.Seen != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("answer %+v, want the pod and 127.0.0.1", a)
	}
	status = http.StatusServiceUnavailable
	if _, err := ask(context.Background(), ap.Addr(), ap.Port()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("a 503 gave %v, want an error naming it", err)
	}
}
