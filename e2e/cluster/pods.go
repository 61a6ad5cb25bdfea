package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Pod is a namespace behind a node running an echo server.
type Pod struct {
	Name string
	Node string
	Host *vlan.Host
}

// StartPod adds a pod namespace behind node and serves TCP 8080 and UDP
// 5353 there: each answer is "<pod> <remote address>\n", so a client can
// tell which pod answered and which source address the pod saw. The pod
// serves until the test ends.
func (c *Cluster) StartPod(t testing.TB, node, name string) *Pod {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p, err := c.StartPodProcess(ctx, node, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serveConn answers every line with the pod's name and the peer address,
// so one connection can be used for several requests.
func serveConn(conn net.Conn, name string) {
	defer conn.Close()
	r := bufio.NewScanner(conn)
	for r.Scan() {
		if _, err := fmt.Fprintf(conn, "%s %s\n", name, conn.RemoteAddr()); err != nil {
			return
		}
	}
}

// Endpoints are the pods as ready endpoints of both families.
func Endpoints(pods ...*Pod) []Endpoint {
	var eps []Endpoint
	for _, p := range pods {
		for _, a := range []netip.Addr{p.Host.IPv4.Addr(), p.Host.IPv6.Addr()} {
			if a.IsValid() {
				eps = append(eps, Endpoint{Node: p.Node, Addr: a, Ready: true})
			}
		}
	}
	return eps
}
