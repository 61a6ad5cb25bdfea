package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/speaker/l2plan"
)

// Against a real API server: an invalid weight on the speaker's own Node
// is reported once per new value as a Warning Event on that Node naming
// the annotation; another Node's is left to that node's speaker.
func TestNodeWeightWatchReportsItsOwnNode(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{SkipCRDs: true})
	c := api.Client(t, nil)
	ctx := context.Background()
	for n, weight := range map[string]string{"n1": "heavy", "n2": "-1"} {
		if err := c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n,
			Annotations: map[string]string{l2plan.AnnotationWeight: weight}}}); err != nil {
			t.Fatal(err)
		}
	}
	mgr := newTestManager(t, api)
	w := &nodeWeightWatch{client: mgr.GetClient(), recorder: mgr.GetEventRecorderFor("ironlb-speaker"), log: logr.Discard(), node: "n1"}
	if err := w.setup(mgr); err != nil {
		t.Fatal(err)
	}
	kubeapi.StartManager(t, mgr)

	// warnings lists the messages of the InvalidAnnotation Events about node.
	warnings := func(node string) []string {
		var evs corev1.EventList
		if err := c.List(ctx, &evs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == node && e.Reason == ReasonInvalidAnnotation && e.Type == corev1.EventTypeWarning {
				out = append(out, e.Message)
			}
		}
		return out
	}
	waitWarnings := func(step string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got := warnings("n1")
			ok := len(got) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = strings.Contains(got[i], want[i])
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: warnings about n1 %q, want ones containing %q", step, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	setWeight := func(v string) {
		t.Helper()
		var n corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: "n1"}, &n); err != nil {
			t.Fatal(err)
		}
		n.Annotations[l2plan.AnnotationWeight] = v
		if err := c.Update(ctx, &n); err != nil {
			t.Fatal(err)
		}
	}

	waitWarnings("start", `Node n1: annotation ironlb.io/layer2-weight "heavy": want an integer from 1 to 1000`)
	// Valid, then invalid again with another value: one more Event.
	setWeight("3")
	setWeight("0")
	waitWarnings("turned 0", `"heavy"`, `"0"`)
	// Only the n1 speaker's; n2's annotation is its own speaker's to report.
	if got := warnings("n2"); len(got) != 0 {
		t.Errorf("warnings about n2 from n1's speaker: %q", got)
	}
}
