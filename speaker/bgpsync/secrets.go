package bgpsync

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
)

// The speaker watches Secrets, but only in its own namespace (the manager's
// cache is namespaced for Secrets, see speaker/run.go): a namespaced Role
// is all it needs.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch,namespace=ironlb-system

// passwordKey is the key of a password Secret that holds the password.
const passwordKey = "password"

// referencesSecret reports whether a BGPPeer of cfg takes its password from
// the Secret namespace/name. Only such Secrets wake the syncer: a change of
// any other Secret in the namespace (the liveness key, webhook certificates)
// has nothing to do with BGP.
func referencesSecret(cfg *config.Config, namespace, name string) bool {
	if cfg == nil {
		return false
	}
	for _, p := range cfg.BGPPeers() {
		if ref, ok := p.Password.Secret(); ok && ref.Namespace == namespace && ref.Name == name {
			return true
		}
	}
	return false
}

// passwordChanged passes Secret updates that change the password and drops
// the rest (metadata, annotations, other keys), so a label added to a
// Secret does not re-plan the node.
var passwordChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*corev1.Secret)
		n, ok2 := e.ObjectNew.(*corev1.Secret)
		if !ok1 || !ok2 {
			return true
		}
		return !bytes.Equal(o.Data[passwordKey], n.Data[passwordKey]) || o.Type != n.Type
	},
}

// secretHandler maps a password Secret to the syncer's key when a BGPPeer
// of the current configuration references it.
func (s *Syncer) secretHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if !referencesSecret(s.Config(), o.GetNamespace(), o.GetName()) {
			return nil
		}
		return []reconcile.Request{Key}
	})
}

// password resolves a peer's TCP-MD5 password, from the watched Secrets.
// Errors name the Secret, never the value.
func (s *Syncer) password(ctx context.Context, p config.Password) (string, error) {
	if pw, ok := p.Inline(); ok {
		return pw, nil
	}
	ref, ok := p.Secret()
	if !ok {
		return "", nil
	}
	if ref.Namespace != s.Namespace {
		return "", fmt.Errorf("passwordSecret %s/%s: the speaker reads Secrets only in %s", ref.Namespace, ref.Name, s.Namespace)
	}
	var sec corev1.Secret
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &sec); err != nil {
		return "", fmt.Errorf("passwordSecret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	pw, ok := sec.Data[passwordKey]
	if !ok {
		return "", fmt.Errorf("passwordSecret %s/%s has no key %q", ref.Namespace, ref.Name, passwordKey)
	}
	return string(pw), nil
}

// KeepPassword is the cache transform for Secrets: the speaker keeps only
// the password key of each Secret in its namespace, so the liveness key and
// webhook certificates living there do not sit in its memory.
func KeepPassword(obj any) (any, error) {
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil
	}
	sec.ManagedFields = nil
	sec.StringData = nil
	if pw, ok := sec.Data[passwordKey]; ok {
		sec.Data = map[string][]byte{passwordKey: pw}
	} else {
		sec.Data = nil
	}
	return sec, nil
}
