package bgp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// With endpointWeightedECMP, each node's route for a Local Service carries
// its ready local endpoints as link bandwidth, and FRR (zebra) installs the
// route in the router's kernel with next-hop weights in that ratio: with 1,
// 2 and 3 pods on node1..3, new connections from the client split 1:2:3.
func TestEndpointWeightedECMPSplitsByPods(t *testing.T) {
	s := cluster.StartSystem(t, cluster.SystemOptions{LocalBGP: true})
	c, ctx := s.C, context.Background()
	pods := s.Pods // one per node
	for i, n := range c.Lab.Nodes {
		for j := range i { // node2 gets 1 more, node3 2 more
			pods = append(pods, c.StartPod(t, n.Name, fmt.Sprintf("web-%s-%d", n.Name, j+2)))
		}
	}
	c.SetEndpoints(t, "default", "bgp-local", cluster.Endpoints(pods...)...)
	var adv v1beta1.BGPAdvertisement
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "bgp"}, &adv); err != nil {
		t.Fatal(err)
	}
	adv.Spec.EndpointWeightedECMP = true
	if err := c.Client.Update(ctx, &adv); err != nil {
		t.Fatal(err)
	}

	waitWeights(t, s, []int{1, 2, 3})

	// The client's new connections split the same way (layer 4 hash over
	// random source ports): each node's count is binomial, and its share
	// must be within 4.5 standard deviations of its pods' share (at 1,200
	// connections ±4.8 points for 1/6, ±6.5 for 1/2; a one-in-150,000
	// miss per node and run, where even weights, 1:1:1, would miss by 17).
	const conns = 1200
	for _, vip := range s.VIPs["bgp-local"] {
		perNode := map[string]int{}
		for range conns {
			answer, err := cluster.Ask(ctx, c.Lab.Clients[0], vip, 2*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", vip, err)
			}
			pod, _, _ := strings.Cut(answer, " ")
			perNode[nodeOfPod(pod)]++
		}
		for i, n := range c.Lab.Nodes {
			share, wantShare := float64(perNode[n.Name])/conns, float64(i+1)/6
			t.Logf("%s: %s answered %d of %d (%.1f %%, its pods' share %.1f %%)", vip, n.Name, perNode[n.Name], conns, 100*share, 100*wantShare)
			if tol := binomialTolerance(wantShare, conns); math.Abs(share-wantShare) > tol {
				t.Errorf("%s: %s got %.1f %% of the connections, want %.1f ± %.1f %%", vip, n.Name, 100*share, 100*wantShare, 100*tol)
			}
		}
	}
	// A change of a node's endpoints changes its weight: node3 down to
	// one pod gives 1:2:1.
	var kept []*cluster.Pod
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "web-node3-") {
			kept = append(kept, p)
		}
	}
	c.SetEndpoints(t, "default", "bgp-local", cluster.Endpoints(kept...)...)
	waitWeights(t, s, []int{1, 2, 1})

	// Without endpointWeightedECMP the routes carry no link bandwidth
	// and the router spreads evenly again.
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "bgp"}, &adv); err != nil {
		t.Fatal(err)
	}
	adv.Spec.EndpointWeightedECMP = false
	if err := c.Client.Update(ctx, &adv); err != nil {
		t.Fatal(err)
	}
	waitWeights(t, s, []int{1, 1, 1})
	for _, vip := range s.VIPs["bgp-local"] {
		out, err := s.Router.Vtysh(ctx, "show bgp "+familyWord(vip.Addr())+" unicast "+vip.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "Extended Community") {
			t.Errorf("%s: link bandwidth still sent after endpointWeightedECMP was turned off:\n%s", vip.Addr(), out)
		}
	}
}

// waitWeights waits until the router's kernel routes for every bgp-local
// IP have one next hop per node, weighted in the ratio of ratio (node1,
// node2, node3).
func waitWeights(t *testing.T, s *cluster.System, ratio []int) {
	t.Helper()
	ctx := context.Background()
	want := map[string]int{}
	for i, n := range s.C.Lab.Nodes {
		want[n.IPv4.Addr().String()] = ratio[i]
		want[n.IPv6.Addr().String()] = ratio[i]
	}
	for _, vip := range s.VIPs["bgp-local"] {
		var got map[string]int
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("kernel next-hop weights %v for %s", ratio, vip.Addr()), func() error {
			var err error
			if got, err = kernelWeights(ctx, s.C.Lab.Router, vip.Addr()); err != nil {
				return err
			}
			if err := sameRatios(got, want); err != nil {
				out, _ := s.Router.Vtysh(ctx, "show bgp "+familyWord(vip.Addr())+" unicast "+vip.Addr().String())
				return fmt.Errorf("%w\n%s", err, out)
			}
			return nil
		})
		t.Logf("%s: router kernel next hops and weights %v (want the ratio %v)", vip.Addr(), got, ratio)
	}
}

// binomialTolerance is how far a share of n independent draws, each
// hitting with probability p, may stray from p: 4.5 standard deviations.
func binomialTolerance(p float64, n int) float64 {
	return 4.5 * math.Sqrt(p*(1-p)/float64(n))
}

// familyWord is vtysh's name of ip's family.
func familyWord(ip netip.Addr) string {
	if ip.Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// nodeOfPod reads the node from a pod name: web-<node>[-<n>].
func nodeOfPod(pod string) string {
	name := strings.TrimPrefix(pod, "web-")
	node, _, _ := strings.Cut(name, "-")
	return node
}

// kernelWeights reads the next hops and weights of the router's kernel
// route for ip.
func kernelWeights(ctx context.Context, router *vlan.Host, ip netip.Addr) (map[string]int, error) {
	fam := "-4"
	if ip.Is6() {
		fam = "-6"
	}
	out, err := router.Exec(ctx, "ip", "-j", fam, "route", "show", netip.PrefixFrom(ip, ip.BitLen()).String())
	if err != nil {
		return nil, fmt.Errorf("ip route: %v: %s", err, out)
	}
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
			Weight  int    `json:"weight"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("ip route: %v: %s", err, out)
	}
	got := map[string]int{}
	for _, r := range routes {
		if r.Gateway != "" {
			got[r.Gateway] = 1
		}
		for _, nh := range r.Nexthops {
			got[nh.Gateway] = nh.Weight
		}
	}
	return got, nil
}

// sameRatios checks got (gateway -> weight, of one family) against want's
// ratios, within rounding (zebra scales weights).
func sameRatios(got, want map[string]int) error {
	if len(got) != 3 {
		return fmt.Errorf("next hops %v, want 3", got)
	}
	base := 0
	for gw, w := range got {
		if want[gw] == 1 {
			base = w
		}
	}
	if base == 0 {
		return fmt.Errorf("next hops %v: node1's missing or without a weight", got)
	}
	for gw, w := range got {
		exp := float64(base * want[gw])
		if d := float64(w) - exp; d > exp*0.1+1 || d < -(exp*0.1+1) {
			return fmt.Errorf("next hops %v: %s weight %d, want about %.0f", got, gw, w, exp)
		}
	}
	return nil
}
