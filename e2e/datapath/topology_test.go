package datapath_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	client2 "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
)

// Topology hints through the whole speaker: the announcing node is
// labelled zone "a"; pod p-a is meant for zone "a", p-b for zone "b".
// Connections through the VIP reach p-a only; relabelling the node to
// zone "b" moves them to p-b (the speaker recomputes on its Node's change).
func TestTopologyHintsFollowTheNodesZone(t *testing.T) {
	c := setup(t)
	client := c.Lab.Clients[0]
	pa := c.StartPod(t, "node1", "p-a")
	pb := c.StartPod(t, "node2", "p-b")
	c.Create(t, cluster.LoadBalancer("default", "web"))
	var eps []cluster.Endpoint
	for _, p := range []struct {
		pod  *cluster.Pod
		zone string
	}{{pa, "a"}, {pb, "b"}} {
		for _, e := range cluster.Endpoints(p.pod) {
			e.ForZones = []string{p.zone}
			eps = append(eps, e)
		}
	}
	c.SetEndpoints(t, "default", "web", eps...)
	vip := c.WaitForIPs(t, "default", "web", 1)[0]
	node := c.WaitForAnnouncer(t, "default", "web", vip, func(string) bool { return true })

	label := func(zone string) {
		t.Helper()
		var n corev1.Node
		if err := c.Client.Get(context.Background(), client2.ObjectKey{Name: node}, &n); err != nil {
			t.Fatal(err)
		}
		orig := n.DeepCopy()
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[corev1.LabelTopologyZone] = zone
		if err := c.Client.Patch(context.Background(), &n, client2.MergeFrom(orig)); err != nil {
			t.Fatal(err)
		}
	}
	// answers: the pods that answer 12 connections in a row.
	answers := func() ([]string, error) {
		seen := map[string]bool{}
		for range 12 {
			pod, _, err := ask(context.Background(), client, vip)
			if err != nil {
				return nil, err
			}
			seen[pod] = true
		}
		var out []string
		for p := range seen {
			out = append(out, p)
		}
		slices.Sort(out)
		return out, nil
	}
	for _, tc := range []struct{ zone, pod string }{{"a", "p-a"}, {"b", "p-b"}} {
		label(tc.zone)
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("zone %s: answers from %s only", tc.zone, tc.pod), func() error {
			got, err := answers()
			if err != nil {
				return err
			}
			if !slices.Equal(got, []string{tc.pod}) {
				return fmt.Errorf("answers from %v", got)
			}
			return nil
		})
	}
}
