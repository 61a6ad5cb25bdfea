// Package memberkey makes sure the key that signs the speakers' liveness
// packets is set: the Secret in IronLB's namespace gets a random value the
// first time the controller runs, so an install needs no manual step and
// every cluster gets its own key.
//
// The controller creates no Secret (its Role names the two it may read and
// update, and create cannot be limited to a name): the chart creates this
// one empty and the controller fills it.
package memberkey

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Key is the data key of the Secret, as the speaker DaemonSet reads it.
const Key = "secret"

// Ensure sets a random key in the Secret if it has none; a key already there
// is never changed, so an operator can rotate the key in it without a
// restart: the speakers re-read it (one key per line, the first signs;
// README, "Rotating the liveness key"). r reads the API server directly: the
// controller has no cache of this Secret.
func Ensure(ctx context.Context, r client.Reader, w client.Writer, namespace, name string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s corev1.Secret
		err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s)
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("the Secret %s/%s (flag -members-secret) does not exist: the Helm chart and manifests/ironlb.yaml create it empty, and the controller may not create Secrets", namespace, name)
		}
		if err != nil {
			return fmt.Errorf("read Secret %s/%s: %w", namespace, name, err)
		}
		if len(s.Data[Key]) > 0 {
			return nil
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[Key] = []byte(hex.EncodeToString(raw))
		if err := w.Update(ctx, &s); err != nil {
			return fmt.Errorf("set the key in Secret %s/%s: %w", namespace, name, err)
		}
		return nil
	})
}
