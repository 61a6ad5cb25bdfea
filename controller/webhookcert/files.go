package webhookcert

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// The Secret's keys that the webhook server reads from its directory, in
// the order they are written: the key before the certificate, because the
// rotator takes the certificate's presence as the sign that both are there.
var fileKeys = []string{corev1.TLSPrivateKeyKey, corev1.TLSCertKey}

// Files copies the serving key and certificate from the webhook's Secret
// into the webhook server's directory whenever they change (cert-controller
// keeps them in the Secret and expects them mounted there, which the
// controller does itself instead: it needs no kubelet, and a renewed
// certificate is served within the second, not after the kubelet's next
// volume sync). The server reloads the files when they change. Every
// replica runs it: every replica serves the webhook.
type Files struct {
	Client client.Reader // the manager's cache, narrowed to the one Secret
	Secret types.NamespacedName
	Dir    string
}

// SetupWithManager watches the Secret through the manager's cache.
func (f *Files) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("webhook-cert-files").
		For(&corev1.Secret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == f.Secret.Namespace && o.GetName() == f.Secret.Name
		}))).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Complete(f)
}

// Reconcile writes the files that differ from the Secret.
func (f *Files) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var s corev1.Secret
	if err := f.Client.Get(ctx, f.Secret, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, fmt.Errorf("read Secret %s: %w", f.Secret, err)
	}
	for _, k := range fileKeys {
		if len(s.Data[k]) == 0 {
			return reconcile.Result{}, nil // not filled yet: the rotator's update comes next
		}
	}
	for _, k := range fileKeys {
		if err := writeIfChanged(filepath.Join(f.Dir, k), s.Data[k]); err != nil {
			return reconcile.Result{}, fmt.Errorf("webhook certificate from Secret %s: %w", f.Secret, err)
		}
	}
	return reconcile.Result{}, nil
}

// writeIfChanged replaces path with data, atomically (a rename), unless it
// holds data already.
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
