// Package webhookcert lets cert-controller's rotator keep the webhook's
// certificate while the controller may read only that one Secret.
//
// The rotator builds its own informer cache over every Secret of its
// namespace and offers no option to narrow it. The controller's Role,
// though, names the Secrets it may read (resourceNames), and the API server
// allows a list or watch under such a Role only when the request carries
// fieldSelector=metadata.name=<that name>. So the rotator gets a manager
// whose REST configuration adds that selector to its list and watch
// requests: its cache then holds the one Secret, and the Role grants
// nothing more.
package webhookcert

import (
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Collection is a list/watch path of the API (without the server's own
// prefix) and the one object of it a client may see.
type Collection struct {
	Path string // e.g. /api/v1/namespaces/ironlb-system/secrets
	Name string
}

// SecretCollection is the Secrets of a namespace, narrowed to one name.
func SecretCollection(namespace, name string) Collection {
	return Collection{Path: "/api/v1/namespaces/" + namespace + "/secrets", Name: name}
}

// WebhookConfigurationCollection is the ValidatingWebhookConfigurations,
// narrowed to one name.
func WebhookConfigurationCollection(name string) Collection {
	return Collection{Path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", Name: name}
}

// Scoped returns a manager that is mgr except for its REST configuration,
// whose list and watch requests on each collection ask only for its named
// object. Hand it to rotator.AddRotator: the rotator's cache is built from
// that configuration, its writes go through mgr's client.
func Scoped(mgr manager.Manager, collections ...Collection) manager.Manager {
	return scopedManager{Manager: mgr, cfg: ScopedConfig(mgr.GetConfig(), collections...)}
}

type scopedManager struct {
	manager.Manager
	cfg *rest.Config
}

func (m scopedManager) GetConfig() *rest.Config { return m.cfg }

// ScopedConfig is a copy of cfg whose GET requests on each collection carry
// a field selector on the collection's name.
func ScopedConfig(cfg *rest.Config, collections ...Collection) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return nameSelector{next: next, collections: collections}
	})
	return cfg
}

type nameSelector struct {
	next        http.RoundTripper
	collections []Collection
}

func (t nameSelector) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.next.RoundTrip(req)
	}
	for _, c := range t.collections {
		if strings.HasSuffix(req.URL.Path, c.Path) {
			// A RoundTripper must not change the caller's request.
			req = req.Clone(req.Context())
			req.URL.RawQuery = WithName(req.URL.Query(), c.Name).Encode()
			break
		}
	}
	return t.next.RoundTrip(req)
}

// WithName adds metadata.name=<name> to the query's field selector, keeping
// any selector already there (terms are ANDed).
func WithName(q url.Values, name string) url.Values {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	if old := q.Get("fieldSelector"); old != "" {
		sel = old + "," + sel
	}
	q.Set("fieldSelector", sel)
	return q
}
