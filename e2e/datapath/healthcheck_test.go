package datapath_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	client2 "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// TestHealthCheckNodePortsFollowTheEndpoints: with
// -serve-health-check-node-ports, every speaker serves a Local Service's
// healthCheckNodePort as kube-proxy would: 200 with the count on the node
// that has a ready endpoint, 503 on the others, and the answers move with
// the endpoints.
func TestHealthCheckNodePortsFollowTheEndpoints(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Datapath: "nftables", ControllerArgs: []string{"-ip-mode", "Proxy"},
		SpeakerArgs: []string{"-serve-health-check-node-ports"}})
	c.Create(t, cluster.Pool("lan", "203.0.113.0/24"), cluster.L2("lan", []string{"lan"}, "eth0"))
	client := c.Lab.Clients[0]
	onNode2 := c.StartPod(t, "node2", "hc-a")
	c.Create(t, cluster.LoadBalancer("default", "local", cluster.Local))
	c.SetEndpoints(t, "default", "local", cluster.Endpoints(onNode2)...)
	var svc corev1.Service
	if err := c.Client.Get(context.Background(), client2.ObjectKey{Namespace: "default", Name: "local"}, &svc); err != nil {
		t.Fatal(err)
	}
	port := uint16(svc.Spec.HealthCheckNodePort)
	if port == 0 {
		t.Fatal("the API server allocated no healthCheckNodePort")
	}

	expect := func(want map[string]int) {
		t.Helper()
		defer func(begin time.Time) {
			t.Logf("%v answered within %v", want, time.Since(begin).Round(time.Millisecond))
		}(time.Now())
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("health check port %d answering %v", port, want), func() error {
			for node, n := range want {
				code, got, err := healthCheck(client, c.NodeAddr(node, false), port)
				if err != nil {
					return fmt.Errorf("%s: %w", node, err)
				}
				wantCode := http.StatusServiceUnavailable
				if n > 0 {
					wantCode = http.StatusOK
				}
				if code != wantCode || got != n {
					return fmt.Errorf("%s answers %d with %d local endpoints, want %d with %d", node, code, got, wantCode, n)
				}
			}
			return nil
		})
	}
	expect(map[string]int{"node1": 0, "node2": 1, "node3": 0})

	onNode1 := c.StartPod(t, "node1", "hc-b")
	onNode1b := c.StartPod(t, "node1", "hc-c")
	c.SetEndpoints(t, "default", "local", cluster.Endpoints(onNode1, onNode1b)...)
	expect(map[string]int{"node1": 2, "node2": 0, "node3": 0})

	if err := c.Client.Delete(context.Background(), &svc); err != nil {
		t.Fatal(err)
	}
	cluster.Eventually(t, 30*time.Second, "the health check port closed on node1", func() error {
		if _, _, err := healthCheck(client, c.NodeAddr("node1", false), port); err == nil {
			return fmt.Errorf("still answering")
		}
		return nil
	})
}

// healthCheck asks node's health check port from the client host and
// returns the status code and the localEndpoints count of its answer.
func healthCheck(client *vlan.Host, node netip.Addr, port uint16) (int, int, error) {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return client.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
	resp, err := hc.Get(fmt.Sprintf("http://%s/", netip.AddrPortFrom(node, port)))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var body struct {
		LocalEndpoints int `json:"localEndpoints"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, 0, fmt.Errorf("decode the answer: %w", err)
	}
	return resp.StatusCode, body.LocalEndpoints, nil
}
