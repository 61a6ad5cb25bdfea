// Package snapshot holds what ironlbctl reads from the cluster, fetched in
// one pass, so the commands' decisions are pure functions of a Snapshot and
// are table-tested without an API server.
package snapshot

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/configsource"
	"github.com/ironlb/ironlb/pkg/presence"
)

// Snapshot is the cluster state ironlbctl reasons about.
type Snapshot struct {
	// Resources are the ironlb.io configuration objects; Pools keep their
	// status (per-family counts written by the controller).
	Resources   config.Resources
	Services    []corev1.Service
	Namespaces  []corev1.Namespace
	Endpoints   []discoveryv1.EndpointSlice
	Nodes       []corev1.Node
	L2Statuses  []v1beta1.ServiceL2Status
	BGPSessions []v1beta1.BGPSessionStatus
	// BGPReach are the ServiceBGPStatus objects: the Service IPs that do
	// not answer on some node advertising them over BGP.
	BGPReach []v1beta1.ServiceBGPStatus
	// Speakers is the speakers' presence Lease (pkg/presence), nil when
	// it does not exist: it says which nodes the speakers hold dead.
	Speakers *coordinationv1.Lease
}

// NamespaceLabels maps namespace name to its labels.
func (s *Snapshot) NamespaceLabels() map[string]map[string]string {
	out := make(map[string]map[string]string, len(s.Namespaces))
	for _, ns := range s.Namespaces {
		out[ns.Name] = ns.Labels
	}
	return out
}

// ServicePtrs and EndpointPtrs adapt the lists to lbstate.Build.
func (s *Snapshot) ServicePtrs() []*corev1.Service { return ptrs(s.Services) }

// EndpointPtrs returns pointers into Endpoints.
func (s *Snapshot) EndpointPtrs() []*discoveryv1.EndpointSlice { return ptrs(s.Endpoints) }

func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// Scheme knows the built-in types and the ironlb.io types.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register built-in types: %w", err)
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register ironlb.io types: %w", err)
	}
	return s, nil
}

// Fetch lists everything a Snapshot holds; namespace is IronLB's (where
// the speakers' presence Lease is). The objects are read one list at a
// time, so a snapshot of a busy cluster is not atomic; every command says
// what it saw.
func Fetch(ctx context.Context, c client.Reader, namespace string) (*Snapshot, error) {
	res, err := configsource.List(ctx, c)
	if err != nil {
		return nil, err
	}
	var (
		svcs  corev1.ServiceList
		nss   corev1.NamespaceList
		eps   discoveryv1.EndpointSliceList
		nodes corev1.NodeList
		l2s   v1beta1.ServiceL2StatusList
		bgps  v1beta1.BGPSessionStatusList
		reach v1beta1.ServiceBGPStatusList
	)
	for _, l := range []client.ObjectList{&svcs, &nss, &eps, &nodes, &l2s, &bgps, &reach} {
		if err := c.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T: %w", l, err)
		}
	}
	snap := &Snapshot{
		Resources: res, Services: svcs.Items, Namespaces: nss.Items, Endpoints: eps.Items,
		Nodes: nodes.Items, L2Statuses: l2s.Items, BGPSessions: bgps.Items, BGPReach: reach.Items,
	}
	var lease coordinationv1.Lease
	switch err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: presence.LeaseName}, &lease); {
	case err == nil:
		snap.Speakers = &lease
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get Lease %s/%s: %w", namespace, presence.LeaseName, err)
	}
	return snap, nil
}
