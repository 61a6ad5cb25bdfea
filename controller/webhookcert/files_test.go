package webhookcert

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func TestFilesFollowTheSecret(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "ironlb-system", Name: "ironlb-webhook-cert"}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	c := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(secret).Build()
	dir := t.TempDir()
	f := &Files{Client: c, Secret: key, Dir: dir}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	// The Secret as the chart creates it: nothing to write yet.
	if _, err := f.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files written from an empty Secret: %v", entries)
	}

	for _, round := range []struct{ cert, key string }{{"cert 1", "key 1"}, {"cert 2", "key 2"}} {
		secret.Data = map[string][]byte{"tls.crt": []byte(round.cert), "tls.key": []byte(round.key), "ca.key": []byte("not for the server")}
		if err := c.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Reconcile(ctx, reconcile.Request{NamespacedName: key}); err != nil {
			t.Fatal(err)
		}
		if got := read("tls.crt"); got != round.cert {
			t.Errorf("tls.crt %q, want %q", got, round.cert)
		}
		if got := read("tls.key"); got != round.key {
			t.Errorf("tls.key %q, want %q", got, round.key)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("want only tls.crt and tls.key in the directory, got %v", entries)
	}
}
