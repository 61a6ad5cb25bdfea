package nftables

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	nft "github.com/google/nftables"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

// Two Services share the VIPs: web on port 80 admits only client1, admin
// on port 81 only client2 (each family with its own prefix). From outside
// its ranges a client's connections are dropped (time out, never reach a
// pod); from inside they are served. Changing web's ranges rewrites web's
// service chains only, an open connection survives it, and lifting the
// ranges admits everyone again.
func TestSourceRanges(t *testing.T) {
	lab := vlan.New(t, vlan.Options{Nodes: 1, Clients: 2})
	node := lab.Nodes[0]
	c1, c2 := lab.Clients[0], lab.Clients[1] // 198.51.100.101, .102 (2001:db8:100::101, ::102)
	pod, err := lab.AddPod(node, "a1", netip.Addr{}, netip.Addr{})
	must(t, err)
	srv := startTCPServer(t, pod)
	for _, c := range lab.Clients {
		must(t, c.AddRoute(netip.PrefixFrom(vip4, 32), node.IPv4.Addr()))
		must(t, c.AddRoute(netip.PrefixFrom(vip6, 128), node.IPv6.Addr()))
	}
	b := backendFor(t, node)

	only := func(h *vlan.Host) []string { // a /31 and a /127 around the client, not the other one
		return []string{netip.PrefixFrom(h.IPv4.Addr(), 31).Masked().String(), netip.PrefixFrom(h.IPv6.Addr(), 127).Masked().String()}
	}
	if c1Range := netip.MustParsePrefix(only(c1)[0]); c1Range.Contains(c2.IPv4.Addr()) {
		t.Fatalf("test plan: %s contains client2 %s", c1Range, c2.IPv4.Addr())
	}
	web := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	web.Spec.LoadBalancerSourceRanges = only(c1)
	admin := service("admin", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	admin.Spec.Ports[0].Port = 81
	admin.Annotations = map[string]string{datapath.AnnotationSourceRanges: only(c2)[0] + "," + only(c2)[1]}
	state := func(web *corev1.Service) datapath.State {
		var sl []*discoveryv1.EndpointSlice
		for _, s := range []*corev1.Service{web, admin} {
			sl = append(sl, slicesFor(s, readyEP(pod))...)
		}
		st := datapath.Desired(datapath.Inputs{Node: node.Name, Services: []*corev1.Service{web, admin}, EndpointSlices: sl})
		if len(st.Problems) > 0 {
			t.Fatalf("problems: %v", st.Problems)
		}
		return st
	}
	apply(t, b, state(web))

	// expect: who is served on which port; everyone else must be dropped.
	expect := func(t *testing.T, served map[*vlan.Host][]uint16) {
		t.Helper()
		for _, f := range families() {
			for _, c := range lab.Clients {
				for _, port := range []uint16{80, 81} {
					want := slices.Contains(served[c], port)
					got, accepted := connects(t, c, netip.AddrPortFrom(f.vip, port), srv)
					if got != want || accepted != want {
						t.Errorf("%s %s -> :%d: served=%v (pod accepted=%v), want served=%v", f.name, c.Name, port, got, accepted, want)
					}
				}
			}
		}
	}
	t.Run("each service its own ranges", func(t *testing.T) {
		expect(t, map[*vlan.Host][]uint16{c1: {80}, c2: {81}})
	})

	// An open connection from client1, then web's ranges move to client2.
	open, err := c1.DialContext(ctxT(t, 5*time.Second), "tcp", netip.AddrPortFrom(vip4, 80).String())
	must(t, err)
	defer open.Close()
	r := bufio.NewReader(open)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	before := ruleHandles(t, b)
	web2 := web.DeepCopy()
	web2.Spec.LoadBalancerSourceRanges = only(c2)
	st2 := state(web2)
	webKeys := []datapath.ServiceKey{{VIP: vip4, Port: 80, Protocol: datapath.TCP}, {VIP: vip6, Port: 80, Protocol: datapath.TCP}}
	must(t, b.Update(context.Background(), st2, webKeys))
	t.Run("a change rewrites only that service's chain", func(t *testing.T) {
		after := ruleHandles(t, b)
		var changed []string
		for c, h := range after {
			if !slices.Equal(before[c], h) {
				changed = append(changed, c)
			}
		}
		for c := range before {
			if _, ok := after[c]; !ok {
				changed = append(changed, c)
			}
		}
		slices.Sort(changed)
		var want []string
		for _, k := range webKeys {
			want = append(want, b.shardTable(k).Name+"/"+chainName(k))
		}
		want = append(want, b.table.Name+"/"+chainMeta) // the state digest
		slices.Sort(want)
		if !slices.Equal(changed, want) {
			t.Errorf("chains whose rules changed: %q, want %q", changed, want)
		}
	})
	t.Run("changed ranges", func(t *testing.T) {
		expect(t, map[*vlan.Host][]uint16{c2: {80, 81}})
	})
	t.Run("restricted services are no drift", func(t *testing.T) {
		noDrift(t, b)
	})
	t.Run("an established connection survives", func(t *testing.T) {
		_ = open.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := fmt.Fprintln(open, "still here"); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "still here\n" {
			t.Fatalf("echo %q, %v", line, err)
		}
	})

	web3 := web.DeepCopy()
	web3.Spec.LoadBalancerSourceRanges = nil
	must(t, b.Update(context.Background(), state(web3), webKeys))
	t.Run("no ranges: everyone", func(t *testing.T) {
		expect(t, map[*vlan.Host][]uint16{c1: {80}, c2: {80, 81}})
		noDrift(t, b)
		chains := ruleHandles(t, b)
		for _, k := range webKeys {
			h, ok := chains[b.shardTable(k).Name+"/"+chainName(k)]
			if !ok {
				t.Fatalf("%s: no service chain in %v", k, chains)
			}
			if want := len(serviceRules(k, state(web3).Services[k], b.mark)); len(h) != want {
				t.Errorf("%s: %d rules in its chain, want %d (no source-range rule)", k, len(h), want)
			}
		}
	})
	// Restricting again, then a restart with the same state, changes nothing.
	apply(t, b, state(web))
	t.Run("restricted again", func(t *testing.T) {
		expect(t, map[*vlan.Host][]uint16{c1: {80}, c2: {81}})
	})
	t.Run("a restart with the same ranges rewrites nothing", func(t *testing.T) {
		before := ruleHandles(t, b)
		again := backendFor(t, node)
		apply(t, again, state(web))
		if after := ruleHandles(t, again); !maps.EqualFunc(before, after, slices.Equal) {
			t.Errorf("rules changed across the restart")
		}
		if _, ok := before[again.shardTable(webKeys[0]).Name+"/"+chainName(webKeys[0])]; !ok {
			t.Fatal("no service chain to compare")
		}
	})
}

// connects opens a TCP connection from c to addr: served is whether a pod
// greeted it, accepted whether srv's accept count moved. A dropped
// connection times out (it is not refused).
func connects(t *testing.T, c *vlan.Host, addr netip.AddrPort, srv *tcpServer) (served, accepted bool) {
	t.Helper()
	n := srv.accepted.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, _, err := hello(ctx, c, addr)
	if err != nil && !isTimeout(err) {
		t.Errorf("%s -> %s: %v, want served or dropped (timeout)", c.Name, addr, err)
	}
	return err == nil, srv.accepted.Load() != n
}

// ruleHandles lists the handles of every rule of every chain of the
// backend's tables, by "table/chain": a chain rewritten by a transaction
// gets new handles. It holds the backend's lock: a drift check running
// meanwhile would share the backend's netlink socket and mix the answers.
func ruleHandles(t *testing.T, b *Backend) map[string][]uint64 {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]uint64{}
	chains, err := b.rd.ListChainsOfTableFamily(nft.TableFamilyINet)
	must(t, err)
	for _, c := range chains {
		if !owned(b.table.Name, c.Table.Name) {
			continue
		}
		rules, err := b.rd.GetRules(c.Table, c)
		must(t, err)
		var hs []uint64
		for _, r := range rules {
			hs = append(hs, r.Handle)
		}
		out[c.Table.Name+"/"+c.Name] = hs
	}
	return out
}

// noDrift checks that the drift checks, cheap and full, find the tables as
// the backend left them, restricted services included.
func noDrift(t *testing.T, b *Backend) {
	t.Helper()
	for _, full := range []bool{false, true} {
		repaired, err := b.Check(context.Background(), full)
		if err != nil {
			t.Fatal(err)
		}
		if len(repaired) > 0 {
			t.Errorf("drift check (full %v) rebuilt %v with nothing changed", full, repaired)
		}
	}
}
