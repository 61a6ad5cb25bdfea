package trigger

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func req(name string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}}
}

func TestAddBeforeAndAfterStart(t *testing.T) {
	var tr Trigger
	tr.Add(req("early"), req("early"))

	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer q.ShutDown()
	if err := tr.Source().Start(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	tr.Add(req("late"))

	got := map[string]int{}
	for q.Len() > 0 {
		r, _ := q.Get()
		got[r.Name]++
		q.Done(r)
	}
	want := map[string]int{"early": 1, "late": 1}
	if len(got) != len(want) || got["early"] != 1 || got["late"] != 1 {
		t.Fatalf("queued %v, want %v (duplicates collapse)", got, want)
	}
}
