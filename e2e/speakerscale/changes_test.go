package speakerscale

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// world is what the changes act on: the Services made so far and the
// simulated nodes (the real speaker's own Node is left alone, as
// viewtest.Changes leaves node000 alone), with the state the changes flip.
type world struct {
	cl       client.Client
	services int
	nodes    []string     // simulated nodes only
	local    map[int]bool // externalTrafficPolicy Local, by Service index
	notReady map[int]bool // endpoint 0 not ready, by Service index
}

// change is one kind of change the speaker acts on, made through the API
// server; do makes the i-th one.
type change struct {
	name string
	do   func(w *world, i int) error
}

func (w *world) svc(i int) int     { return (i * 7919) % w.services }
func (w *world) node(i int) string { return w.nodes[(i*37)%len(w.nodes)] }

// changes mirror viewtest.Changes (speaker/l2sync and speaker/bgpsync
// BenchmarkLayer2Change and BenchmarkBGPChange measure the same kinds in
// process), here as writes to the API server.
var changes = []change{
	// A Service's externalTrafficPolicy flips: the nodes that may attract
	// its traffic change from every node to those with its endpoints, or
	// back.
	{"service", func(w *world, i int) error {
		j := w.svc(i)
		w.local[j] = !w.local[j]
		etp := corev1.ServiceExternalTrafficPolicyCluster
		if w.local[j] {
			etp = corev1.ServiceExternalTrafficPolicyLocal
		}
		return w.patch(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: svcName(j)}},
			types.MergePatchType, map[string]any{"spec": map[string]any{"externalTrafficPolicy": etp}}, false)
	}},
	// One endpoint of a Service turns not ready, or ready again.
	{"endpointslice", func(w *world, i int) error {
		j := w.svc(i)
		w.notReady[j] = !w.notReady[j]
		return w.patch(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: svcName(j) + "-x"}},
			types.JSONPatchType, []map[string]any{{"op": "replace", "path": "/endpoints/0/conditions/ready", "value": !w.notReady[j]}}, false)
	}},
	// A Service is created, and deleted with the next change: the
	// controller gives it an address and takes it back, and rewrites the
	// pool's counts each time; the speaker decides the one IP. Half of
	// them layer 2, half BGP.
	{"service-churn", func(w *world, i int) error {
		s := service(i / 2)
		s.Name = fmt.Sprintf("churn%04d", i/2)
		if i%2 == 0 {
			if err := w.cl.Create(context.Background(), s); err != nil {
				return fmt.Errorf("create Service %s: %w", s.Name, err)
			}
			return nil
		}
		if err := w.cl.Delete(context.Background(), s); err != nil {
			return fmt.Errorf("delete Service %s: %w", s.Name, err)
		}
		return nil
	}},
	// A node is relabelled in a way no advertisement selects on: the
	// speaker must see that nothing it decides changed.
	{"node-label", func(w *world, i int) error {
		return w.patch(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: w.node(i)}},
			types.MergePatchType, map[string]any{"metadata": map[string]any{"labels": map[string]string{"rack": fmt.Sprint(i)}}}, false)
	}},
	// A node turns NotReady, and Ready again with the next change: it
	// leaves and re-enters the candidates of every Cluster IP.
	{"node-ready", func(w *world, i int) error {
		st := corev1.ConditionFalse
		if i%2 == 1 {
			st = corev1.ConditionTrue
		}
		cond := corev1.NodeCondition{Type: corev1.NodeReady, Status: st, Reason: "Bench",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}
		return w.patch(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: w.node(i / 2)}},
			types.MergePatchType, map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{cond}}}, true)
	}},
}

func (w *world) patch(obj client.Object, pt types.PatchType, body any, status bool) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	p := client.RawPatch(pt, b)
	if status {
		err = w.cl.Status().Patch(context.Background(), obj, p)
	} else {
		err = w.cl.Patch(context.Background(), obj, p)
	}
	if err != nil {
		return fmt.Errorf("patch %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}
