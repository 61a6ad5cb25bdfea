// Package badconfig_test checks that bad configuration objects change
// nothing that runs, before and after every component restarts, on the
// whole system: a real API server, three speakers with the nftables
// datapath on a virtual LAN, FRR as the router, pods behind the nodes and a
// client sending steady traffic to every VIP.
package badconfig_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// startSystem starts the whole system (cluster.StartSystem): a layer 2
// and a BGP dual-stack Cluster Service, pods on every node, FRR routing
// the BGP addresses to the client.
func startSystem(t *testing.T) *cluster.System {
	t.Helper()
	return cluster.StartSystem(t, cluster.SystemOptions{})
}

// condition returns the Valid condition of a configuration object.
func condition(t *testing.T, s *cluster.System, obj client.Object) *metav1.Condition {
	t.Helper()
	if err := s.C.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *v1beta1.IPAddressPool:
		conds = o.Status.Conditions
	case *v1beta1.L2Advertisement:
		conds = o.Status.Conditions
	case *v1beta1.BGPAdvertisement:
		conds = o.Status.Conditions
	case *v1beta1.BGPPeer:
		conds = o.Status.Conditions
	case *v1beta1.Community:
		conds = o.Status.Conditions
	case *v1beta1.BFDProfile:
		conds = o.Status.Conditions
	}
	return meta.FindStatusCondition(conds, v1beta1.ConditionValid)
}

// waitValid waits until obj's Valid condition has the status and, when
// invalid, names field.
func waitValid(t *testing.T, s *cluster.System, obj client.Object, valid bool, field string) {
	t.Helper()
	want := metav1.ConditionFalse
	if valid {
		want = metav1.ConditionTrue
	}
	cluster.Eventually(t, 30*time.Second, fmt.Sprintf("%T %s Valid=%s naming %q", obj, obj.GetName(), want, field), func() error {
		c := condition(t, s, obj)
		switch {
		case c == nil:
			return fmt.Errorf("no Valid condition")
		case c.Status != want:
			return fmt.Errorf("Valid=%s: %s", c.Status, c.Message)
		case c.ObservedGeneration != obj.GetGeneration():
			return fmt.Errorf("condition of generation %d, object at %d", c.ObservedGeneration, obj.GetGeneration())
		case !valid && !strings.Contains(c.Message, field):
			return fmt.Errorf("message %q does not name %s", c.Message, field)
		}
		return nil
	})
}
