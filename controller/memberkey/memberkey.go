// Package memberkey makes sure the key that signs the speakers' liveness
// packets exists: a Secret in IronLB's namespace, created with a random
// value the first time the controller runs, so an install needs no manual
// step and every cluster gets its own key.
package memberkey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Key is the data key of the Secret, as the speaker DaemonSet reads it.
const Key = "secret"

// Ensure creates the Secret if it does not exist; an existing one is never
// changed, so an operator can rotate the key in it without a restart: the
// speakers re-read it (one key per line, the first signs; README,
// "Rotating the liveness key").
func Ensure(ctx context.Context, c client.Client, namespace, name string) error {
	var s corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	s = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: map[string]string{"app.kubernetes.io/name": "ironlb"}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{Key: []byte(hex.EncodeToString(raw))},
	}
	if err := c.Create(ctx, &s); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Secret %s/%s: %w", namespace, name, err)
	}
	return nil
}
