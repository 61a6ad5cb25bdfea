package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// SpeakerMetricsAddr is where a speaker started with
// SpeakerArgs: []string{"-metrics-bind-address", SpeakerMetricsAddr, "-metrics-secure=false"}
// serves /metrics over plain HTTP inside its own node namespace (every namespace has its
// own loopback).
const SpeakerMetricsAddr = "127.0.0.1:7474"

// NodeHTTPClient is an HTTP client whose connections start inside a node's
// namespace, to reach what a speaker serves on that node's loopback.
func NodeHTTPClient(h *vlan.Host) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return h.DialContext(ctx, network, addr)
		},
	}}
}

// FreePort is a TCP port free on the host's loopback right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// HTTPGet fetches url and fails the test unless the answer is 200 OK.
func HTTPGet(t testing.TB, cl *http.Client, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return body
}
