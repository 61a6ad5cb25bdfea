package main

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/e2e/kubeapi"
	"github.com/ironlb/ironlb/speaker/sliceindex"
)

// TestSliceIndexFindsEachServicesSlices runs the index on a real API
// server's EndpointSlices: each Service gets exactly the slices labelled
// with its name in its namespace, through relabelling and deletion, and
// what List returns are copies.
func TestSliceIndexFindsEachServicesSlices(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{SkipCRDs: true})
	c := api.Client(t, nil)
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}); err != nil {
		t.Fatal(err)
	}
	slice := func(ns, name, svc string) *discoveryv1.EndpointSlice {
		sl := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, AddressType: discoveryv1.AddressTypeIPv6}
		if svc != "" {
			sl.Labels = map[string]string{discoveryv1.LabelServiceName: svc, "other": "label"}
		}
		return sl
	}
	for _, sl := range []*discoveryv1.EndpointSlice{
		slice("default", "web-1", "web"), slice("default", "web-2", "web"), slice("default", "db-1", "db"),
		slice("other", "web-1", "web"), slice("default", "orphan", ""),
	} {
		if err := c.Create(ctx, sl); err != nil {
			t.Fatal(err)
		}
	}

	mgr := newTestManager(t, api)
	idx, err := sliceindex.Register(ctx, mgr.GetCache())
	if err != nil {
		t.Fatal(err)
	}
	kubeapi.StartManager(t, mgr)

	web, db, otherWeb := types.NamespacedName{Namespace: "default", Name: "web"}, types.NamespacedName{Namespace: "default", Name: "db"}, types.NamespacedName{Namespace: "other", Name: "web"}
	names := func(svc types.NamespacedName) []string {
		t.Helper()
		got, err := idx.List(svc)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sl := range got {
			out = append(out, sl.Namespace+"/"+sl.Name)
		}
		slices.Sort(out)
		return out
	}
	wait := func(step string, want map[types.NamespacedName][]string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok := true
			for svc, w := range want {
				ok = ok && slices.Equal(names(svc), w)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				for svc, w := range want {
					t.Errorf("%s: %s has slices %v, want %v", step, svc, names(svc), w)
				}
				t.FailNow()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	none := types.NamespacedName{Namespace: "default", Name: "none"}
	wait("start", map[types.NamespacedName][]string{
		web: {"default/web-1", "default/web-2"}, db: {"default/db-1"}, otherWeb: {"other/web-1"}, none: nil,
	})

	// A copy: changing what List returned changes nothing in the cache.
	got, err := idx.List(db)
	if err != nil {
		t.Fatal(err)
	}
	got[0].Labels[discoveryv1.LabelServiceName] = "web"
	got[0].Name = "changed"
	if n := names(db); !slices.Equal(n, []string{"default/db-1"}) {
		t.Fatalf("after changing a listed slice: db has %v", n)
	}

	// Relabelled: it moves to the other Service.
	var sl discoveryv1.EndpointSlice
	if err := c.Get(ctx, types.NamespacedName{Namespace: "default", Name: "web-2"}, &sl); err != nil {
		t.Fatal(err)
	}
	sl.Labels[discoveryv1.LabelServiceName] = "db"
	if err := c.Update(ctx, &sl); err != nil {
		t.Fatal(err)
	}
	wait("relabelled", map[types.NamespacedName][]string{web: {"default/web-1"}, db: {"default/db-1", "default/web-2"}})

	// Deleted, and a new slice without the label: neither counts.
	if err := c.Delete(ctx, slice("default", "db-1", "db")); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, slice("default", "db-unlabelled", "")); err != nil {
		t.Fatal(err)
	}
	wait("deleted", map[types.NamespacedName][]string{db: {"default/web-2"}, otherWeb: {"other/web-1"}})
}
