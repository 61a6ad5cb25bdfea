package memberkey

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestEnsureCreatesOnceAndNeverChanges(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	ctx := context.Background()
	if err := Ensure(ctx, c, "ironlb-system", "ironlb-members"); err != nil {
		t.Fatal(err)
	}
	var first corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ironlb-system", Name: "ironlb-members"}, &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Data[Key]) != 64 {
		t.Fatalf("key of %d hex characters, want 64", len(first.Data[Key]))
	}
	if err := Ensure(ctx, c, "ironlb-system", "ironlb-members"); err != nil {
		t.Fatal(err)
	}
	var second corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ironlb-system", Name: "ironlb-members"}, &second); err != nil {
		t.Fatal(err)
	}
	if string(second.Data[Key]) != string(first.Data[Key]) {
		t.Fatal("Ensure changed an existing key")
	}
}
