package nftables

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/datapath"
	"github.com/ironlb/ironlb/e2e/vlan"
)

func families() []struct {
	name string
	vip  netip.Addr
	addr func(h *vlan.Host) netip.Addr
} {
	return []struct {
		name string
		vip  netip.Addr
		addr func(h *vlan.Host) netip.Addr
	}{
		{"ipv4", vip4, func(h *vlan.Host) netip.Addr { return h.IPv4.Addr() }},
		{"ipv6", vip6, func(h *vlan.Host) netip.Addr { return h.IPv6.Addr() }},
	}
}

// Cluster: every ready pod on every node answers, and none sees the client.
// Local: only node1's pods answer, and they see the client's address.
func TestTrafficPolicies(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	for _, tc := range []struct {
		policy    corev1.ServiceExternalTrafficPolicy
		wantPods  []string
		clientSee bool
	}{
		{corev1.ServiceExternalTrafficPolicyCluster, []string{"a1", "a2", "b1"}, false},
		{corev1.ServiceExternalTrafficPolicyLocal, []string{"a1", "a2"}, true},
	} {
		svc := service("web", []netip.Addr{vip4, vip6}, tc.policy, false, corev1.ProtocolTCP)
		apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["a2"]), readyEP(l.pods["b1"]))))
		for _, f := range families() {
			t.Run(fmt.Sprintf("%s/%s", tc.policy, f.name), func(t *testing.T) {
				ctx := ctxT(t, 20*time.Second)
				seenPods := map[string]bool{}
				for i := 0; i < 24; i++ {
					pod, seen, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
					if err != nil {
						t.Fatalf("connection %d: %v", i, err)
					}
					seenPods[pod] = true
					isClient := seen == f.addr(l.client)
					if isClient != tc.clientSee {
						t.Fatalf("pod %s saw %s; client is %s, want client address seen=%v", pod, seen, f.addr(l.client), tc.clientSee)
					}
					// Masqueraded to node1: its LAN address towards node2,
					// the address of the pod-side interface locally.
					node1 := []netip.Addr{l.node1.IPv4.Addr(), l.node1.IPv6.Addr(), l.node1.PodCIDRv4.Addr().Next(), netip.MustParseAddr("fe80::1")}
					if !tc.clientSee && !slices.Contains(node1, seen) {
						t.Fatalf("pod %s saw %s, want one of node1's addresses %v", pod, seen, node1)
					}
				}
				for _, p := range tc.wantPods {
					if !seenPods[p] {
						t.Errorf("pod %s never answered; answers from %v", p, seenPods)
					}
				}
				if len(seenPods) != len(tc.wantPods) {
					t.Errorf("answers from %v, want exactly %v", seenPods, tc.wantPods)
				}
			})
		}
	}
}

func TestSessionAffinityPinsClient(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, true, corev1.ProtocolTCP)
	apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["a2"]), readyEP(l.pods["b1"]))))
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) {
			ctx := ctxT(t, 20*time.Second)
			first := ""
			for i := 0; i < 12; i++ {
				pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
				if err != nil {
					t.Fatal(err)
				}
				if first == "" {
					first = pod
				} else if pod != first {
					t.Fatalf("connection %d went to %s, the first to %s", i, pod, first)
				}
			}
			// The pinned pod starts terminating: the client moves on.
			var eps []ep
			for _, name := range []string{"a1", "a2", "b1"} {
				e := readyEP(l.pods[name])
				if name == first {
					e = ep{pod: l.pods[name], serving: true, terminating: true}
				}
				eps = append(eps, e)
			}
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, eps...)))
			defer apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["a2"]), readyEP(l.pods["b1"]))))
			second := ""
			for i := 0; i < 8; i++ {
				pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
				if err != nil {
					t.Fatal(err)
				}
				if pod == first {
					t.Fatalf("terminating pod %s still gets new connections", first)
				}
				if second == "" {
					second = pod
				} else if pod != second {
					t.Fatalf("after re-pinning, connection %d went to %s, not %s", i, pod, second)
				}
			}
		})
	}
}

// A terminating pod keeps its open connection but gets no new one.
func TestTerminatingEndpointDrains(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	all := []ep{readyEP(l.pods["a1"]), readyEP(l.pods["a2"])}
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) {
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, all...)))
			ctx := ctxT(t, 20*time.Second)
			c, err := l.client.DialContext(ctx, "tcp", netip.AddrPortFrom(f.vip, 80).String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			greeting, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			victim, _, _ := strings.Cut(greeting, " ")
			var eps []ep
			for _, e := range all {
				if e.pod.Name == victim {
					e = ep{pod: e.pod, serving: true, terminating: true}
				}
				eps = append(eps, e)
			}
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, eps...)))
			for i := 0; i < 10; i++ {
				pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
				if err != nil {
					t.Fatal(err)
				}
				if pod == victim {
					t.Fatalf("new connection %d reached terminating pod %s", i, victim)
				}
			}
			// The old connection still works.
			if _, err := fmt.Fprintf(c, "still there?\n"); err != nil {
				t.Fatal(err)
			}
			echo, err := r.ReadString('\n')
			if err != nil || echo != "still there?\n" {
				t.Fatalf("open connection to terminating pod %s: %q, %v", victim, echo, err)
			}
			// Only terminating pods left: Kubernetes' fallback sends new
			// connections to serving terminating pods (KEP-1669).
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, ep{pod: l.pods[victim], serving: true, terminating: true})))
			pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
			if err != nil || pod != victim {
				t.Fatalf("with only terminating endpoints: pod %q, %v; want %s", pod, err, victim)
			}
		})
	}
}

// A UDP endpoint that is removed gets no more datagrams, even from a client
// that keeps its socket (its conntrack entry pointed there).
func TestRemovedUDPEndpointGetsNoMorePackets(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("dns", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolUDP)
	all := []ep{readyEP(l.pods["a1"]), readyEP(l.pods["a2"])}
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) {
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, all...)))
			ctx := ctxT(t, 20*time.Second)
			c, err := l.client.DialContext(ctx, "udp", netip.AddrPortFrom(f.vip, 80).String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ask := func() string {
				t.Helper()
				buf := make([]byte, 200)
				for try := 0; try < 5; try++ {
					if _, err := c.Write([]byte("hi")); err != nil {
						t.Fatal(err)
					}
					_ = c.SetReadDeadline(time.Now().Add(time.Second))
					n, err := c.Read(buf)
					if err == nil {
						name, _, _ := strings.Cut(string(buf[:n]), " ")
						return name
					}
				}
				t.Fatal("no UDP answer")
				return ""
			}
			first := ask()
			if again := ask(); again != first {
				t.Fatalf("one flow answered by %s then %s", first, again)
			}
			var keep []ep
			for _, e := range all {
				if e.pod.Name != first {
					keep = append(keep, e)
				}
			}
			apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, keep...)))
			before := l.udp[first].received.Load()
			for i := 0; i < 5; i++ {
				if got := ask(); got == first {
					t.Fatalf("removed endpoint %s still answers", first)
				}
			}
			if after := l.udp[first].received.Load(); after != before {
				t.Fatalf("removed endpoint %s received %d more datagrams", first, after-before)
			}
		})
	}
}

// Ports of a VIP that are not Service ports are refused; so are Cluster
// services without endpoints; Local services without local endpoints drop.
func TestRefusedAndDropped(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
	apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]))))
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) {
			ctx := ctxT(t, 20*time.Second)
			if _, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80)); err != nil {
				t.Fatalf("service port: %v", err)
			}
			dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := l.client.DialContext(dctx, "tcp", netip.AddrPortFrom(f.vip, 81).String())
			if !isRefused(err) {
				t.Fatalf("TCP to a non-service port: %v, want connection refused", err)
			}
			c, err := l.client.DialContext(ctx, "udp", netip.AddrPortFrom(f.vip, 81).String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write([]byte("x"))
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			_, err = c.Read(make([]byte, 10))
			if !isRefused(err) {
				t.Fatalf("UDP to a non-service port: %v, want connection refused (ICMP port unreachable)", err)
			}
		})
	}
	t.Run("no endpoints", func(t *testing.T) {
		cluster := service("web", []netip.Addr{vip4}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
		apply(t, b, desired(l.node1.Name, cluster, slicesFor(cluster)))
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := l.client.DialContext(dctx, "tcp", netip.AddrPortFrom(vip4, 80).String()); !isRefused(err) {
			t.Fatalf("Cluster service without endpoints: %v, want refused", err)
		}
		// Local with only a remote endpoint: dropped, never forwarded.
		local := service("web", []netip.Addr{vip4}, corev1.ServiceExternalTrafficPolicyLocal, false, corev1.ProtocolTCP)
		apply(t, b, desired(l.node1.Name, local, slicesFor(local, readyEP(l.pods["b1"]))))
		before := l.tcp["b1"].accepted.Load()
		dctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		if _, err := l.client.DialContext(dctx2, "tcp", netip.AddrPortFrom(vip4, 80).String()); !isTimeout(err) {
			t.Fatalf("Local service without local endpoints: %v, want a timeout (dropped)", err)
		}
		if l.tcp["b1"].accepted.Load() != before {
			t.Fatal("Local service forwarded to a remote endpoint")
		}
	})
}

// A pod reaches its own Service through the VIP, also when it is chosen
// itself (Local policy: no masquerade but for the hairpin).
func TestHairpin(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyLocal, false, corev1.ProtocolTCP)
	apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["a2"]))))
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) {
			ctx := ctxT(t, 20*time.Second)
			self := 0
			for i := 0; i < 8; i++ {
				pod, seen, err := hello(ctx, l.pods["a1"], netip.AddrPortFrom(f.vip, 80))
				if err != nil {
					t.Fatalf("connection %d from a1: %v", i, err)
				}
				if pod == "a1" {
					self++
					if seen == f.addr(l.pods["a1"]) {
						t.Fatalf("hairpin connection not masqueraded: a1 saw itself")
					}
				} else if seen != f.addr(l.pods["a1"]) {
					t.Fatalf("a2 saw %s, want a1's address (Local policy)", seen)
				}
			}
			if self == 0 {
				t.Fatal("round robin never chose a1 itself")
			}
		})
	}
}

// A new backend instance with the same State changes nothing, and a foreign
// table stays as it was.
func TestRestartChangesNothing(t *testing.T) {
	l := newTestLab(t)
	ctx := ctxT(t, 30*time.Second)
	foreign := "table ip foreign {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 22 counter accept\n }\n}\n"
	if _, err := l.node1.Exec(ctx, "sh", "-c", "printf '"+strings.ReplaceAll(foreign, "\n", "\\n")+"' | nft -f -"); err != nil {
		t.Fatal(err)
	}
	dump := func(what ...string) string {
		out, err := l.node1.Exec(ctx, "nft", append([]string{"-j", "list"}, what...)...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	foreignBefore := dump("table", "ip", "foreign")
	svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, true, corev1.ProtocolTCP, corev1.ProtocolUDP)
	st := desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a1"]), readyEP(l.pods["b1"])))
	b1, err := New(Options{NetNS: "/run/netns/" + l.node1.NetNS})
	must(t, err)
	apply(t, b1, st)
	must(t, b1.Close())
	before := dump("ruleset") // every table: main, shards and the foreign one

	b2 := backendFor(t, l.node1)
	apply(t, b2, st)
	if after := dump("ruleset"); after != before {
		t.Fatalf("restart with the same state changed the ruleset:\nbefore %s\nafter  %s", before, after)
	}
	if got := dump("table", "ip", "foreign"); got != foreignBefore {
		t.Fatalf("foreign table changed:\nbefore %s\nafter  %s", foreignBefore, got)
	}
	// The new instance goes on incrementally and traffic flows.
	st2 := desired(l.node1.Name, svc, slicesFor(svc, readyEP(l.pods["a2"])))
	apply(t, b2, st2)
	pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(vip4, 80))
	if err != nil || pod != "a2" {
		t.Fatalf("after restart and update: %q, %v; want a2", pod, err)
	}
	if got := dump("table", "ip", "foreign"); got != foreignBefore {
		t.Fatal("foreign table changed by an update")
	}
	// A restart with a different state replaces the table and works.
	b3 := backendFor(t, l.node1)
	apply(t, b3, st)
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		// affinity: one client, one pod; use fresh ports from a1's node
		pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(vip4, 80))
		if err != nil {
			t.Fatal(err)
		}
		seen[pod] = true
	}
	if len(seen) != 1 || seen["a2"] {
		t.Fatalf("after restart with the old state: answers from %v, want one of a1, b1", seen)
	}
}

// Hash schedulers pin a client address (sh) or spread its connections by
// source port (mh with mh-port); lc spreads at random.
func TestSchedulers(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	eps := []ep{readyEP(l.pods["a1"]), readyEP(l.pods["a2"]), readyEP(l.pods["b1"])}
	for _, tc := range []struct {
		sched, flags string
		onePod       bool
	}{
		{"sh", "", true},
		{"mh", "", true},
		{"mh", "mh-port", false},
		{"lc", "", false},
		{"wrr", "", false},
	} {
		svc := service("web", []netip.Addr{vip4, vip6}, corev1.ServiceExternalTrafficPolicyCluster, false, corev1.ProtocolTCP)
		svc.Annotations = map[string]string{"ironlb.io/scheduler": tc.sched, "ironlb.io/scheduler-flags": tc.flags}
		apply(t, b, desired(l.node1.Name, svc, slicesFor(svc, eps...)))
		for _, f := range families() {
			t.Run(fmt.Sprintf("%s,%s/%s", tc.sched, tc.flags, f.name), func(t *testing.T) {
				ctx := ctxT(t, 20*time.Second)
				pods := map[string]bool{}
				for i := 0; i < 24; i++ {
					pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(f.vip, 80))
					if err != nil {
						t.Fatal(err)
					}
					pods[pod] = true
				}
				if tc.onePod != (len(pods) == 1) {
					t.Fatalf("answers from %v; want one pod only: %v", pods, tc.onePod)
				}
			})
		}
	}
}

// wrr with weights 3:1 is exact: numgen counters per cascade rule.
func TestWeightedRoundRobinIsExact(t *testing.T) {
	l := newTestLab(t)
	b := backendFor(t, l.node1)
	k := datapath.ServiceKey{VIP: vip4, Port: 80, Protocol: datapath.TCP}
	st := datapath.State{Services: map[datapath.ServiceKey]datapath.VirtualService{k: {
		Scheduler: datapath.WeightedRoundRobin, Masquerade: true,
		Backends: map[netip.AddrPort]datapath.Backend{
			netip.AddrPortFrom(l.pods["a1"].IPv4.Addr(), podPort): {Weight: 3},
			netip.AddrPortFrom(l.pods["a2"].IPv4.Addr(), podPort): {Weight: 1},
			netip.AddrPortFrom(l.pods["b1"].IPv4.Addr(), podPort): {Weight: 0},
		},
	}}}
	apply(t, b, st)
	ctx := ctxT(t, 20*time.Second)
	count := map[string]int{}
	for i := 0; i < 40; i++ {
		pod, _, err := hello(ctx, l.client, netip.AddrPortFrom(vip4, 80))
		if err != nil {
			t.Fatal(err)
		}
		count[pod]++
	}
	if count["a1"] != 30 || count["a2"] != 10 || count["b1"] != 0 {
		t.Fatalf("connections per pod %v, want a1:30 a2:10", count)
	}
}
