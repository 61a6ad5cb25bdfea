package cluster

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The Secrets the controller keeps, with the chart's names.
const (
	MembersSecret     = "ironlb-members"
	WebhookCertSecret = "ironlb-webhook-cert"
)

// CreateControllerSecrets creates the Secrets the controller keeps, empty,
// as the Helm chart does (templates/secrets.yaml): the controller may not
// create Secrets, it only fills these.
func CreateControllerSecrets(ctx context.Context, c client.Client) error {
	for _, name := range []string{MembersSecret, WebhookCertSecret} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: SystemNamespace, Name: name}, Type: corev1.SecretTypeOpaque}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("create Secret %s/%s: %w", SystemNamespace, name, err)
		}
	}
	return nil
}
