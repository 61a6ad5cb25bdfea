package migrate_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// svcCase is a Service created after the configuration, and the addresses
// MetalLB gives it (worked out from MetalLB's allocator: the pool order of
// its documentation, then the first free address of the pool in the order
// the entries are written, skipping .0 and .255 with avoidBuggyIPs).
type svcCase struct {
	ns, name    string
	labels      map[string]string
	annotations map[string]string
	lbIP        string
	want        string
	// asWritten, when set, is the Service as a documentation example
	// writes it, created instead of the fields above.
	asWritten *corev1.Service
}

func (s svcCase) service() *corev1.Service {
	if s.asWritten != nil {
		return s.asWritten.DeepCopy()
	}
	return cluster.LoadBalancer(s.ns, s.name, func(svc *corev1.Service) {
		svc.Labels = s.labels
		svc.Annotations = s.annotations
		svc.Spec.LoadBalancerIP = s.lbIP
	})
}

// TestDocsExamplesGetMetalLBsAddresses: each MetalLB documentation
// example, converted and applied by `ironlbctl migrate --apply` through
// IronLB's validating webhook, is Valid in the controller's report, and the
// controller gives the Services the addresses MetalLB gives them, with the
// annotations in both of MetalLB's spellings.
func TestDocsExamplesGetMetalLBsAddresses(t *testing.T) {
	for _, tc := range []struct {
		file       string
		namespaces []*corev1.Namespace
		services   []svcCase
	}{
		{file: "layer2.yaml", services: []svcCase{
			{ns: "default", name: "nginx", want: "192.0.2.240"},
			{ns: "default", name: "requested", annotations: map[string]string{"metallb.io/loadBalancerIPs": "192.0.2.250"}, want: "192.0.2.250"},
			{ns: "default", name: "requested-old-spelling", annotations: map[string]string{"metallb.universe.tf/loadBalancerIPs": "192.0.2.245"}, want: "192.0.2.245"},
			{ns: "default", name: "second", want: "192.0.2.241"},
		}},
		{file: "bgp-bfd.yaml", services: []svcCase{
			{ns: "default", name: "nginx", want: "192.0.2.240"},
		}},
		{file: "bgp-communities.yaml", services: []svcCase{
			// MetalLB hands out the /24's first address: no avoidBuggyIPs.
			{ns: "default", name: "first", want: "198.51.100.0"},
			// "if we create a service with IP 198.51.100.10" (the example's text)
			{ns: "default", name: "documented", lbIP: "198.51.100.10", want: "198.51.100.10"},
		}},
		{file: "pool-selection.yaml",
			namespaces: []*corev1.Namespace{
				{ObjectMeta: metav1.ObjectMeta{Name: "namespace-a"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Labels: map[string]string{"foo": "bar"}}},
			},
			services: []svcCase{
				// No serviceAllocation matches: the pools without one that auto-assign.
				{ns: "default", name: "plain", want: "198.51.100.0"},
				// Listed namespace and app=bar: the pinned pool, .0 avoided.
				{ns: "namespace-a", name: "bar", labels: map[string]string{"app": "bar"}, want: "203.0.113.1"},
				// Namespace selected by label foo=bar, app=bar.
				{ns: "tenant", name: "bar", labels: map[string]string{"app": "bar"}, want: "203.0.113.2"},
				// Listed namespace but no app=bar: not the pinned pool.
				{ns: "namespace-a", name: "other", want: "198.51.100.1"},
				// "expensive" does not auto-assign: only on request, by pool or address.
				{ns: "default", name: "premium", annotations: map[string]string{"metallb.universe.tf/address-pool": "expensive"}, want: "192.0.2.64"},
				{ns: "default", name: "premium-pool", annotations: map[string]string{"metallb.io/address-pool": "expensive"}, want: "192.0.2.65"},
				{ns: "default", name: "premium-ip", annotations: map[string]string{"metallb.io/loadBalancerIPs": "192.0.2.67"}, want: "192.0.2.67"},
			}},
		{file: "sharing.yaml"}, // its Services are in the file: both share 192.0.2.4
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Nodes: 1, NoSpeakers: true, Webhook: true})
			ctx := context.Background()
			if err := c.InstallWebhook(ctx); err != nil {
				t.Fatal(err)
			}
			waitWebhook(t, c)
			for _, ns := range tc.namespaces {
				c.Create(t, ns)
			}
			res := migrateApply(t, c.API, testdata(t, tc.file))
			waitAllValid(t, c.Client, res)

			services := append(slices.Clone(tc.services), fileServices(t, testdata(t, tc.file))...)
			if len(services) == 0 {
				t.Fatal("no Service to check")
			}
			for _, s := range services {
				c.Create(t, s.service())
				got := c.WaitForIPs(t, s.ns, s.name, 1)
				if want := []netip.Addr{netip.MustParseAddr(s.want)}; !slices.Equal(got, want) {
					t.Errorf("%s/%s got %v, MetalLB gives %v", s.ns, s.name, got, want)
				}
			}
		})
	}
}

// fileServices are the v1 Services a documentation example holds (the
// sharing example), as svcCases expecting the address they request. The
// test API server is IPv6-primary, so they ask for IPv4 explicitly.
func fileServices(t *testing.T, path string) []svcCase {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := config.SplitDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []svcCase
	for _, d := range docs {
		var svc corev1.Service
		if err := yaml.Unmarshal(d, &svc); err != nil || svc.Kind != "Service" {
			continue
		}
		svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
		out = append(out, svcCase{ns: svc.Namespace, name: svc.Name, want: svc.Spec.LoadBalancerIP, asWritten: &svc})
	}
	return out
}

// TestDocsPeerExamplesApply: each v1beta2 BGPPeer example of MetalLB's
// documentation (alternatives to each other: they peer with one address)
// is converted, passes IronLB's webhook and is Valid, the FRR-only ones
// with their fields left out.
func TestDocsPeerExamplesApply(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 1, NoSpeakers: true, Webhook: true})
	ctx := context.Background()
	if err := c.InstallWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	waitWebhook(t, c)
	data, err := os.ReadFile(testdata(t, "peers-v1beta2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := config.SplitDocuments(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 5 {
		t.Fatalf("%d documents, want the documentation's 5 peer examples", len(docs))
	}
	for i, d := range docs {
		file := filepath.Join(t.TempDir(), fmt.Sprintf("peer-%d.json", i+1))
		if err := os.WriteFile(file, d, 0o644); err != nil {
			t.Fatal(err)
		}
		res := migrateApply(t, c.API, file)
		if len(res.BGPPeers) != 1 {
			t.Fatalf("document %d: %d BGPPeers printed, want 1", i+1, len(res.BGPPeers))
		}
		waitAllValid(t, c.Client, res)
		peer := res.BGPPeers[0]
		if err := c.Client.Delete(ctx, &peer); err != nil { // the next example peers with the same router
			t.Fatal(err)
		}
	}
}
