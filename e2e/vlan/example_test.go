package vlan_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// A lab outside of a test (the lab binary does this); tests use vlan.New,
// which also registers the cleanup.
func ExampleStart() {
	ctx := context.Background()
	lab, err := vlan.Start(ctx, vlan.Options{Nodes: 2, Router: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lab.Close()
	fmt.Print(lab.Summary())

	// A pod behind node1, reachable from the client through node1.
	node1, client := lab.Nodes[0], lab.Clients[0]
	pod, err := lab.AddPod(node1, "web", netip.Addr{}, netip.Addr{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = client.AddRoute(node1.PodCIDRv4, node1.IPv4.Addr())
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := client.Ping(pctx, pod.IPv4.Addr()); err != nil {
		fmt.Println(err)
	}
}
