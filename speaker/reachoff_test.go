package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/speaker/bgpsync"
)

// Against a real API server: a speaker started with the reachability
// check off removes the ServiceBGPStatus entries it wrote while the check
// was on (another node's entry stays, and the object goes with the last
// entry), so no status keeps saying an address fails where nobody looks.
func TestReachOffClearsOwnEntries(t *testing.T) {
	api, c := startAPI(t)
	ctx := context.Background()
	for _, name := range []string{"web", "db"} {
		if err := c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}}); err != nil {
			t.Fatal(err)
		}
	}
	// entry writes node's entry as that node's speaker does (server-side
	// apply under its own field manager).
	entry := func(svc, obj, ip, node string) {
		t.Helper()
		body, err := json.Marshal(map[string]any{
			"apiVersion": v1beta1.GroupVersion.String(), "kind": "ServiceBGPStatus",
			"metadata": map[string]any{"name": obj, "namespace": "default"},
			"status": map[string]any{"serviceName": svc, "ip": ip, "notAnswering": []v1beta1.NodeNotAnswering{{
				Node: node, Reason: "NotAnswering", Message: "tcp/80: connection refused", Since: metav1.NewTime(time.Now().Truncate(time.Second))}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		o := &v1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: obj}}
		if err := c.Patch(ctx, o, client.RawPatch(types.ApplyYAMLPatchType, body), client.FieldOwner(bgpsync.FieldManager(node)), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	entry("web", "web-203.0.113.1", "203.0.113.1", "n1")
	entry("web", "web-203.0.113.1", "203.0.113.1", "n2")
	entry("db", "db-203.0.113.2", "203.0.113.2", "n1")
	// nodes lists the entries' nodes of an object (nil: no object).
	nodes := func(obj string) ([]string, error) {
		var st v1beta1.ServiceBGPStatus
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: obj}, &st); apierrors.IsNotFound(err) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		out := []string{}
		for _, e := range st.Status.NotAnswering {
			out = append(out, e.Node)
		}
		return out, nil
	}
	if got, err := nodes("web-203.0.113.1"); err != nil || !slices.Equal(got, []string{"n1", "n2"}) {
		t.Fatalf("before: web entries %v (%v), want n1 and n2", got, err)
	}

	mgr := newTestManager(t, api)
	if _, err := setupReachOff(mgr, "n1", func() []string { return nil }, logr.Discard()); err != nil {
		t.Fatal(err)
	}
	kubeapi.StartManager(t, mgr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		web, err1 := nodes("web-203.0.113.1")
		db, err2 := nodes("db-203.0.113.2")
		if err1 == nil && err2 == nil && slices.Equal(web, []string{"n2"}) && db == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1 started with the check off: web entries %v (%v), db entries %v (%v); want n2 only and no db object", web, err1, db, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
