package kcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Answer is what the test server said: which pod answered, and the address
// it saw the request come from.
type Answer struct {
	Pod    string
	Client netip.AddrPort
}

// Ask sends one HTTP request from inside h's namespace to the test server
// at target (a VIP, ClusterIP or pod address) on a new connection.
func Ask(ctx context.Context, h *vlan.Host, target netip.AddrPort) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target.String()+"/", nil)
	if err != nil {
		return Answer{}, err
	}
	resp, err := cluster.NodeHTTPClient(h).Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, err
	}
	f := strings.Fields(string(b))
	if resp.StatusCode != http.StatusOK || len(f) != 2 {
		return Answer{}, fmt.Errorf("%s from %s: %s %q, want 200 \"<pod> <client>\"", target, h.Name, resp.Status, b)
	}
	from, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return Answer{}, fmt.Errorf("%s from %s: client address %q: %w", target, h.Name, f[1], err)
	}
	return Answer{Pod: f[0], Client: from}, nil
}
