package main

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
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
// (balanced, source NAT) and a Local Service with its pod on another node
// (the client address reaches the pod). All dual-stack.
func demoServices() []demoService {
	return []demoService{
		{Name: "web", Mode: "L2", Pods: []demoPod{{"web-a", "node1"}, {"web-b", "node2"}}},
		{Name: "web-local", Local: true, Mode: "L2", Pods: []demoPod{{"local-a", "node3"}}},
		{Name: "bgp", Mode: "BGP", Pods: []demoPod{{"bgp-a", "node2"}, {"bgp-b", "node3"}}},
		{Name: "bgp-local", Local: true, Mode: "BGP", Pods: []demoPod{{"bgp-local-a", "node1"}}},
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

// podObject is a Pod as a kubelet would report it, so `kubectl get pods
// -o wide` shows where the demo's pods run. Nothing runs it: the pod is a
// network namespace with the echo server.
func podObject(p *cluster.Pod, app string, nodeIP netip.Addr) (*corev1.Pod, corev1.PodStatus) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: demoNamespace, Name: p.Name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			NodeName: p.Node,
			Containers: []corev1.Container{{
				Name: "echo", Image: "ironlb.io/lab-echo",
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "udp", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
				},
			}},
		},
	}
	now := metav1.Now()
	status := corev1.PodStatus{
		Phase:     corev1.PodRunning,
		HostIP:    nodeIP.String(),
		PodIP:     p.Host.IPv4.Addr().String(),
		PodIPs:    []corev1.PodIP{{IP: p.Host.IPv4.Addr().String()}, {IP: p.Host.IPv6.Addr().String()}},
		StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{
			Name: "echo", Image: "ironlb.io/lab-echo", ImageID: "ironlb.io/lab-echo",
			Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}},
	}
	return pod, status
}

// applyDemo configures every mode, starts the demo's pods and creates its
// Services with their EndpointSlices. Pods serve until podCtx is done.
func applyDemo(ctx, podCtx context.Context, c *cluster.Cluster, ms []mode, env *labEnv, step func(string)) error {
	objs, err := configObjects(ms)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := m.Prepare(ctx, c, env); err != nil {
			return fmt.Errorf("mode %s: %w", m.Name(), err)
		}
	}
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	step("configuration applied: " + describeConfig(ms))
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: demoNamespace}}); err != nil {
		return fmt.Errorf("create namespace %s: %w", demoNamespace, err)
	}
	for _, s := range demoServices() {
		m := modeNamed(ms, s.Mode)
		if m == nil {
			return fmt.Errorf("service %s: no mode %q", s.Name, s.Mode)
		}
		var pods []*cluster.Pod
		for _, dp := range s.Pods {
			p, err := c.StartPodProcess(podCtx, dp.Node, dp.Name)
			if err != nil {
				return err
			}
			obj, status := podObject(p, s.Name, c.NodeAddr(dp.Node, false))
			if err := c.Client.Create(ctx, obj); err != nil {
				return fmt.Errorf("create pod %s: %w", dp.Name, err)
			}
			obj.Status = status
			if err := c.Client.Status().Update(ctx, obj); err != nil {
				return fmt.Errorf("pod %s status: %w", dp.Name, err)
			}
			pods = append(pods, p)
		}
		if err := c.Client.Create(ctx, s.service(m.Pool().Name)); err != nil {
			return fmt.Errorf("create service %s: %w", s.Name, err)
		}
		if err := c.ApplyEndpoints(ctx, demoNamespace, s.Name, cluster.Endpoints(pods...)...); err != nil {
			return err
		}
		step(fmt.Sprintf("service %s/%s (%s) with pods %s", demoNamespace, s.Name, policyName(s.Local), podList(s.Pods)))
	}
	return nil
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
