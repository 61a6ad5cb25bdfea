package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/e2e/cluster"
)

// demoNamespace holds the demo Services and pods.
const demoNamespace = "demo"

// demoService is a LoadBalancer Service of the demo and the pods behind it.
type demoService struct {
	Name  string
	Local bool   // externalTrafficPolicy: Local
	Mode  string // mode name: the Service asks for that mode's pool
	Pods  []demoPod
}

// demoPod is a pod namespace running the echo server on a node.
type demoPod struct{ Name, Node string }

// podNodes are the nodes with a pod of s, sorted.
func (s demoService) podNodes() []string {
	var out []string
	for _, p := range s.Pods {
		if !slices.Contains(out, p.Node) {
			out = append(out, p.Node)
		}
	}
	slices.Sort(out)
	return out
}

// demoServices: per mode, a Cluster Service with pods on two nodes
// (balanced, source NAT) and a Local Service (the client address reaches
// the pod): layer 2 with its pod on another node, BGP with one pod on one
// node and two on another. All dual-stack.
func demoServices() []demoService {
	return []demoService{
		{Name: "web", Mode: "L2", Pods: []demoPod{{"web-a", "node1"}, {"web-b", "node2"}}},
		{Name: "web-local", Local: true, Mode: "L2", Pods: []demoPod{{"local-a", "node3"}}},
		{Name: "bgp", Mode: "BGP", Pods: []demoPod{{"bgp-a", "node2"}, {"bgp-b", "node3"}}},
		// Pods spread unevenly: with endpoint-weighted ECMP the router
		// sends node2 twice node1's share.
		{Name: "bgp-local", Local: true, Mode: "BGP", Pods: []demoPod{{"bgp-local-a", "node1"}, {"bgp-local-b", "node2"}, {"bgp-local-c", "node2"}}},
	}
}

// service is the Service object of s, asking for pool.
func (s demoService) service(pool string) *corev1.Service {
	opts := []cluster.ServiceOpt{cluster.DualStack}
	if s.Local {
		opts = append(opts, cluster.Local)
	}
	svc := cluster.LoadBalancer(demoNamespace, s.Name, opts...)
	svc.Annotations = map[string]string{"ironlb.io/address-pool": pool}
	return svc
}

// policy is the table's POLICY column.
func policy(svc *corev1.Service) string {
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		return "Local"
	}
	return "Cluster"
}

// configObjects are the IronLB objects of every mode, checked with the
// same compiler as the controller's before anything is created.
func configObjects(ms []mode) ([]client.Object, error) {
	var objs []client.Object
	var res config.Resources
	for _, m := range ms {
		for _, o := range append([]client.Object{m.Pool()}, m.Objects()...) {
			objs = append(objs, o)
			res = res.With(o)
		}
	}
	if _, errs := config.Compile(res); errs != nil {
		return nil, fmt.Errorf("lab configuration: %w", errs)
	}
	return objs, nil
}

// applyDemo configures every mode, then deploys each demo Service with its
// pods through b.
func applyDemo(ctx context.Context, b *backend, ms []mode, env *labEnv, step func(string)) error {
	objs, err := configObjects(ms)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := m.Prepare(ctx, b.Lab, env); err != nil {
			return fmt.Errorf("mode %s: %w", m.Name(), err)
		}
	}
	for _, o := range objs {
		if err := createRetry(ctx, b.API, o); err != nil {
			return err
		}
	}
	step("configuration applied: " + describeConfig(ms))
	if err := b.API.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil {
		return fmt.Errorf("create namespace %s: %w", demoNamespace, err)
	}
	for _, s := range demoServices() {
		m := modeNamed(ms, s.Mode)
		if m == nil {
			return fmt.Errorf("service %s: no mode %q", s.Name, s.Mode)
		}
		how, err := b.deploy(ctx, s, s.service(m.Pool().Name))
		if err != nil {
			return err
		}
		step(fmt.Sprintf("service %s/%s (%s) with %s", demoNamespace, s.Name, policyName(s.Local), how))
	}
	return nil
}

// createRetry creates o, retrying for a minute while the API refuses it
// for a reason other than o itself: right after `helm install` IronLB's
// webhook may not serve yet. An object that exists already is fine.
func createRetry(ctx context.Context, cl client.Client, o client.Object) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var refused error // the object itself is wrong: retrying does not help
	err := cluster.Poll(ctx, fmt.Sprintf("creating %T %s", o, o.GetName()), func() error {
		err := cl.Create(ctx, o)
		switch {
		case err == nil || apierrors.IsAlreadyExists(err):
			return nil
		case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err):
			refused = err
			return nil
		}
		return err
	})
	if refused != nil {
		return fmt.Errorf("create %T %s: %w", o, o.GetName(), refused)
	}
	return err
}

func modeNamed(ms []mode, name string) mode {
	for _, m := range ms {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

func describeConfig(ms []mode) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += "; "
		}
		p := m.Pool()
		out += fmt.Sprintf("pool %s %v (%s)", p.Name, p.Spec.Addresses, m.Name())
	}
	return out
}

func policyName(local bool) string {
	if local {
		return "Local"
	}
	return "Cluster"
}

func podList(ps []demoPod) string {
	out := ""
	for i, p := range ps {
		if i > 0 {
			out += ", "
		}
		out += p.Name + "@" + p.Node
	}
	return out
}

func ptr[T any](v T) *T { return &v }
