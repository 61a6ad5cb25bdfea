package memberkey

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestEnsureFillsOnceAndNeverChanges(t *testing.T) {
	empty := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ironlb-system", Name: "ironlb-members"}}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(empty).Build()
	ctx := context.Background()
	if err := Ensure(ctx, c, c, "ironlb-system", "ironlb-members"); err != nil {
		t.Fatal(err)
	}
	var first corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ironlb-system", Name: "ironlb-members"}, &first); err != nil {
		t.Fatal(err)
	}
	if len(first.Data[Key]) != 64 {
		t.Fatalf("key of %d hex characters, want 64", len(first.Data[Key]))
	}
	if err := Ensure(ctx, c, c, "ironlb-system", "ironlb-members"); err != nil {
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

func TestEnsureCreatesNoSecret(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).Build()
	err := Ensure(context.Background(), c, c, "ironlb-system", "ironlb-members")
	if err == nil || !strings.Contains(err.Error(), "ironlb-system/ironlb-members") {
		t.Fatalf("missing Secret: want an error naming it, got %v", err)
	}
	var list corev1.SecretList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Fatalf("Ensure created %d Secrets", len(list.Items))
	}
}
