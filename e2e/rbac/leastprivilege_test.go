package rbac

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

const (
	sys   = cluster.SystemNamespace
	other = "team-a" // any namespace that is not IronLB's
)

// request is one API call and whether the identity may make it.
type request struct {
	verb, path string
	allowed    bool
}

// Paths of the calls in the tables.
const (
	services         = "/api/v1/namespaces/" + other + "/services"
	service          = services + "/web"
	serviceStatus    = service + "/status"
	allSecrets       = "/api/v1/secrets"
	sysSecrets       = "/api/v1/namespaces/" + sys + "/secrets"
	otherSecrets     = "/api/v1/namespaces/" + other + "/secrets"
	sysLeases        = "/apis/coordination.k8s.io/v1/namespaces/" + sys + "/leases"
	otherLeases      = "/apis/coordination.k8s.io/v1/namespaces/" + other + "/leases"
	pools            = "/apis/ironlb.io/v1beta1/ipaddresspools"
	pool             = pools + "/lan"
	poolStatus       = pool + "/status"
	peers            = "/apis/ironlb.io/v1beta1/bgppeers"
	l2Statuses       = "/apis/ironlb.io/v1beta1/namespaces/" + other + "/servicel2statuses"
	bgpStatuses      = "/apis/ironlb.io/v1beta1/namespaces/" + sys + "/bgpsessionstatuses"
	nodes            = "/api/v1/nodes"
	node             = nodes + "/node1"
	pods             = "/api/v1/namespaces/" + other + "/pods"
	endpointSlices   = "/apis/discovery.k8s.io/v1/namespaces/" + other + "/endpointslices"
	webhookConfigs   = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
	webhookConfig    = webhookConfigs + "/ironlb-validating-webhook"
	tokenReviews     = "/apis/authentication.k8s.io/v1/tokenreviews"
	accessReviews    = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
	clusterRoles     = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
	sysRoleBindings  = "/apis/rbac.authorization.k8s.io/v1/namespaces/" + sys + "/rolebindings"
	serviceAccountTk = "/api/v1/namespaces/" + sys + "/serviceaccounts/ironlb-speaker/token"
)

// The tables: what each component's code needs (allowed) beside what it
// must never be able to do (denied). A request that RBAC allows may still
// fail later (the object does not exist, the body is empty): only 403
// Forbidden counts as denied, and writes are dry runs. A path may carry a
// query (a list with a field selector, a watch).
var (
	speakerTable = []request{
		// Needed: Services, their endpoints and Nodes to announce; the
		// configuration; its own status objects; BGP passwords in its
		// namespace; the metrics endpoint's token checks.
		{"list", services, true},
		{"list", endpointSlices, true},
		{"list", nodes, true},
		{"list", pools, true},
		{"list", peers, true},
		{"create", l2Statuses, true},
		{"create", bgpStatuses, true},
		{"get", sysSecrets + "/bgp-password", true},
		{"create", tokenReviews, true},
		{"create", accessReviews, true},
		// Denied: Services and their status are the controller's; the
		// configuration is the operator's; Secrets elsewhere, any listing
		// of Secrets across namespaces, any Secret write.
		{"update", service, false},
		{"update", serviceStatus, false},
		{"delete", service, false},
		{"create", pools, false},
		{"update", pool, false},
		{"update", poolStatus, false},
		{"delete", pool, false},
		{"get", otherSecrets + "/db-credentials", false},
		{"list", otherSecrets, false},
		{"list", allSecrets, false},
		{"create", sysSecrets, false},
		{"update", sysSecrets + "/bgp-password", false},
		{"update", node, false},
		{"delete", node, false},
		{"create", pods, false},
		// The speakers' presence Lease (pkg/presence), in their own
		// namespace only.
		{"create", sysLeases, true},
		{"update", sysLeases + "/ironlb-speakers", true},
		{"create", otherLeases, false},
		{"update", webhookConfig, false},
		{"create", clusterRoles, false},
		{"create", sysRoleBindings, false},
		{"create", serviceAccountTk, false},
	}
	controllerTable = []request{
		// Needed: Services and their status; pool status; the
		// configuration; its Lease, webhook certificate and members key in
		// its namespace; the webhook configuration's CA; token checks.
		{"list", services, true},
		{"update", serviceStatus, true},
		{"list", pools, true},
		{"update", poolStatus, true},
		{"create", sysLeases, true},
		{"update", sysLeases + "/ironlb-controller", true},
		// Two Secrets of its namespace, by name: the webhook certificate
		// (watched through a cache narrowed to its name) and the members
		// key. It creates neither (the chart does).
		{"get", sysSecrets + "/ironlb-webhook-cert", true},
		{"list", sysSecrets + "?fieldSelector=metadata.name%3Dironlb-webhook-cert", true},
		{"list", sysSecrets + "?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dironlb-webhook-cert", true},
		{"update", sysSecrets + "/ironlb-webhook-cert", true},
		{"get", sysSecrets + "/ironlb-members", true},
		{"update", sysSecrets + "/ironlb-members", true},
		{"update", webhookConfig, true},
		{"create", tokenReviews, true},
		{"create", accessReviews, true},
		// Denied: a Service's spec, Services themselves, the pools' spec,
		// the speakers' status objects, Nodes, and every Secret outside
		// its namespace.
		{"update", service, false},
		{"create", services, false},
		{"delete", service, false},
		{"update", pool, false},
		{"create", pools, false},
		{"create", l2Statuses, false},
		{"create", bgpStatuses, false},
		{"get", otherSecrets + "/db-credentials", false},
		{"list", otherSecrets, false},
		{"list", allSecrets, false},
		// Nor any other Secret of its own namespace, by any way of asking.
		{"get", sysSecrets + "/bgp-password", false},
		{"list", sysSecrets, false},
		{"list", sysSecrets + "?watch=true&timeoutSeconds=1", false},
		{"list", sysSecrets + "?fieldSelector=metadata.name%3Dbgp-password", false},
		{"update", sysSecrets + "/bgp-password", false},
		{"create", sysSecrets, false},
		{"delete", sysSecrets + "/ironlb-members", false},
		{"delete", sysSecrets + "/ironlb-webhook-cert", false},
		{"list", nodes, false},
		{"list", endpointSlices, false},
		{"create", pods, false},
		{"create", otherLeases, false},
		{"create", webhookConfigs, false},
		{"delete", webhookConfig, false},
		{"create", clusterRoles, false},
		{"create", sysRoleBindings, false},
		{"create", serviceAccountTk, false},
	}
)

// TestLeastPrivilege applies manifests/rbac to a real API server, bound as
// the chart binds it, and makes every request of the tables as the
// controller's and the speaker's ServiceAccounts.
func TestLeastPrivilege(t *testing.T) {
	api := kubeapi.Start(t, kubeapi.Options{})
	admin := api.Client(t, nil)
	ctx := context.Background()
	for _, ns := range []string{sys, other} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	// Secrets that exist, so an allowed read returns the object and a
	// denied one is refused, not merely not found.
	if err := cluster.CreateControllerSecrets(ctx, admin); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: sys, Name: "bgp-password"}, StringData: map[string]string{"password": "x"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "db-credentials"}, StringData: map[string]string{"password": "y"}},
	} {
		if err := admin.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	root := kubeapi.RepoRoot(t)
	for _, tc := range []struct {
		component string
		table     []request
	}{
		{"controller", controllerTable},
		{"speaker", speakerTable},
	} {
		t.Run(tc.component, func(t *testing.T) {
			sa := "ironlb-" + tc.component
			path := filepath.Join(root, "manifests", "rbac", tc.component, "role.yaml")
			if err := cluster.ApplyRoles(ctx, admin, path, rbacv1.Subject{Kind: "ServiceAccount", Namespace: sys, Name: sa}); err != nil {
				t.Fatal(err)
			}
			cfg := rest.CopyConfig(api.Config)
			user, groups := kubeapi.ServiceAccountIdentity(sys, sa)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
			rc, err := rawClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.table {
				code, err := do(ctx, rc, r)
				if denied := code == http.StatusForbidden; denied == r.allowed {
					t.Errorf("%s %s %s: status %d (%v), want allowed=%v", sa, r.verb, r.path, code, err, r.allowed)
				}
				if r.allowed && r.verb == "get" && err != nil {
					t.Errorf("%s get %s: %v", sa, r.path, err)
				}
			}
		})
	}
}

// rawClient is a REST client for any path.
func rawClient(cfg *rest.Config) (*rest.RESTClient, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.APIPath = "/"
	cfg.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	return rest.UnversionedRESTClientFor(cfg)
}

// do makes one request (writes as dry runs, with an empty object as the
// body: authorization comes before decoding) and returns the status code.
func do(ctx context.Context, rc *rest.RESTClient, r request) (int, error) {
	method := map[string]string{"get": "GET", "list": "GET", "create": "POST", "update": "PUT", "delete": "DELETE"}[r.verb]
	path, query, _ := strings.Cut(r.path, "?")
	req := rc.Verb(method).AbsPath(path)
	params, err := url.ParseQuery(query)
	if err != nil {
		return 0, err
	}
	for k, vs := range params {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	if method != "GET" {
		req = req.Param("dryRun", "All").SetHeader("Content-Type", "application/json").Body([]byte("{}"))
	}
	res := req.Do(ctx)
	var code int
	res.StatusCode(&code)
	err = res.Error()
	if code == 0 && err != nil {
		if s, ok := err.(apierrors.APIStatus); ok {
			code = int(s.Status().Code)
		}
	}
	return code, err
}
