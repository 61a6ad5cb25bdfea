package kubeapi

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var (
	ipv4ServiceRange = netip.MustParsePrefix("192.0.2.128/25")
	ipv6ServiceRange = netip.MustParsePrefix("2001:db8:ffff::/108")
)

// TestServer runs the Service, status and RBAC checks against one server.
func TestServer(t *testing.T) {
	t.Parallel()
	srv := Start(t, Options{SkipCRDs: true})
	cs := srv.Clientset(t)

	t.Run("LoadBalancerIPv4", func(t *testing.T) {
		svc := createService(t, cs, lbService("lb-ipv4", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol))
		assertClusterIPs(t, svc, ipv4ServiceRange)
		port := svc.Spec.Ports[0].NodePort
		if port < 30000 || port > 39999 {
			t.Errorf("nodePort = %d, want one in %s", port, DefaultNodePortRange)
		}
	})

	t.Run("LoadBalancerLocalGetsHealthCheckNodePort", func(t *testing.T) {
		in := lbService("lb-local", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol)
		in.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		svc := createService(t, cs, in)
		if hc := svc.Spec.HealthCheckNodePort; hc < 30000 || hc > 39999 {
			t.Errorf("healthCheckNodePort = %d, want one in %s", hc, DefaultNodePortRange)
		}
	})

	t.Run("DualStack", func(t *testing.T) {
		svc := createService(t, cs, lbService("dual", corev1.IPFamilyPolicyRequireDualStack))
		// The cluster's primary family comes first when the Service names none.
		assertClusterIPs(t, svc, ipv6ServiceRange, ipv4ServiceRange)
		if got := svc.Spec.IPFamilies; len(got) != 2 || got[0] != corev1.IPv6Protocol || got[1] != corev1.IPv4Protocol {
			t.Errorf("ipFamilies = %v, want [IPv6 IPv4]", got)
		}
	})

	t.Run("DefaultIsIPv6", func(t *testing.T) {
		in := lbService("default-family", "")
		in.Spec.Type = corev1.ServiceTypeClusterIP
		svc := createService(t, cs, in)
		assertClusterIPs(t, svc, ipv6ServiceRange)
	})

	t.Run("StatusRoundTripDefaultsIPMode", func(t *testing.T) {
		svc := createService(t, cs, lbService("status", corev1.IPFamilyPolicyRequireDualStack))
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{
			{IP: "203.0.113.10"},
			{IP: "2001:db8:1::10", IPMode: ptr.To(corev1.LoadBalancerIPModeProxy)},
		}
		if _, err := cs.CoreV1().Services(svc.Namespace).UpdateStatus(ctx(t), svc, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("UpdateStatus: %v", err)
		}
		got := getService(t, cs, svc)
		ing := got.Status.LoadBalancer.Ingress
		if len(ing) != 2 || ing[0].IP != "203.0.113.10" || ing[1].IP != "2001:db8:1::10" {
			t.Fatalf("ingress = %+v, want 203.0.113.10 and 2001:db8:1::10", ing)
		}
		// Unset ipMode is defaulted to VIP by the server: a controller that
		// compares desired to observed status must default it too.
		if ing[0].IPMode == nil || *ing[0].IPMode != corev1.LoadBalancerIPModeVIP {
			t.Errorf("ipMode of an ingress written without one = %v, want VIP", ing[0].IPMode)
		}
		if ing[1].IPMode == nil || *ing[1].IPMode != corev1.LoadBalancerIPModeProxy {
			t.Errorf("ipMode written as Proxy = %v, want Proxy", ing[1].IPMode)
		}
	})

	// Records how the /status subresource treats metadata, which decides how
	// the controller writes annotations and status (one request or two).
	t.Run("StatusSubresourcePersistsAnnotations", func(t *testing.T) {
		svc := createService(t, cs, lbService("status-annotation", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol))
		svc.Annotations = map[string]string{"ironlb.io/test": "via-status"}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.7"}}
		if _, err := cs.CoreV1().Services(svc.Namespace).UpdateStatus(ctx(t), svc, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("UpdateStatus: %v", err)
		}
		got := getService(t, cs, svc)
		if len(got.Status.LoadBalancer.Ingress) != 1 || got.Status.LoadBalancer.Ingress[0].IP != "198.51.100.7" {
			t.Errorf("status after UpdateStatus = %+v, want ingress 198.51.100.7", got.Status.LoadBalancer)
		}
		// Observed on v1.34.2: the Service status strategy resets only spec,
		// so metadata changes sent to /status are stored.
		if v := got.Annotations["ironlb.io/test"]; v != "via-status" {
			t.Errorf("annotation after UpdateStatus = %q, want %q (the /status subresource now drops metadata changes)", v, "via-status")
		}

		// The same holds for a merge patch to /status (controller-runtime's
		// Status().Patch), and spec changes in it are dropped.
		patch := `{"metadata":{"annotations":{"ironlb.io/test":"via-status-patch"}},` +
			`"spec":{"externalTrafficPolicy":"Local"},` +
			`"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.9"}]}}}`
		if _, err := cs.CoreV1().Services(svc.Namespace).Patch(ctx(t), svc.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status"); err != nil {
			t.Fatalf("merge patch to /status: %v", err)
		}
		got = getService(t, cs, svc)
		if v := got.Annotations["ironlb.io/test"]; v != "via-status-patch" {
			t.Errorf("annotation after a merge patch to /status = %q, want %q", v, "via-status-patch")
		}
		if ing := got.Status.LoadBalancer.Ingress; len(ing) != 1 || ing[0].IP != "198.51.100.9" {
			t.Errorf("status after a merge patch to /status = %+v, want ingress 198.51.100.9", got.Status.LoadBalancer)
		}
		if got.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
			t.Errorf("externalTrafficPolicy after a merge patch to /status = %q, want Cluster (spec is ignored there)", got.Spec.ExternalTrafficPolicy)
		}
	})

	t.Run("MainResourceIgnoresStatus", func(t *testing.T) {
		svc := createService(t, cs, lbService("main-ignores-status", corev1.IPFamilyPolicySingleStack, corev1.IPv4Protocol))
		svc.Annotations = map[string]string{"ironlb.io/test": "via-update"}
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.51.100.8"}}
		if _, err := cs.CoreV1().Services(svc.Namespace).Update(ctx(t), svc, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got := getService(t, cs, svc)
		if v := got.Annotations["ironlb.io/test"]; v != "via-update" {
			t.Errorf("annotation after Update = %q, want %q", v, "via-update")
		}
		if len(got.Status.LoadBalancer.Ingress) != 0 {
			t.Errorf("status after Update of the main resource = %+v, want it ignored", got.Status.LoadBalancer)
		}
	})

	t.Run("AdminKubeconfig", func(t *testing.T) {
		c := clientFromKubeconfig(t, srv.Kubeconfig)
		if _, err := c.CoreV1().Namespaces().Get(ctx(t), metav1.NamespaceDefault, metav1.GetOptions{}); err != nil {
			t.Fatalf("admin kubeconfig: get namespace default: %v", err)
		}
	})

	t.Run("RBACDeniesUnprivilegedUser", func(t *testing.T) {
		path, err := srv.KubeconfigFor("ironlb-test-nobody", "ironlb-test-group")
		if err != nil {
			t.Fatalf("KubeconfigFor: %v", err)
		}
		c := clientFromKubeconfig(t, path)
		_, err = c.CoreV1().Secrets(metav1.NamespaceDefault).List(ctx(t), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("unprivileged list secrets: err = %v, want Forbidden", err)
		}
		// The same request as admin succeeds, so the denial is RBAC's.
		if _, err := cs.CoreV1().Secrets(metav1.NamespaceDefault).List(ctx(t), metav1.ListOptions{}); err != nil {
			t.Fatalf("admin list secrets: %v", err)
		}
	})

	t.Run("ServiceAccountIdentity", func(t *testing.T) {
		testServiceAccountIdentity(t, srv, cs)
	})
}

// testServiceAccountIdentity checks that a minted ServiceAccount identity is
// bound by RBAC rules naming the ServiceAccount, as the controller will be.
func testServiceAccountIdentity(t *testing.T, srv *Server, cs kubernetes.Interface) {
	const ns, sa = "ironlb-system", "ironlb-controller"
	mustCreate := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("setting up RBAC: %v", err)
		}
	}
	mustCreate(cs.CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
	mustCreate(cs.RbacV1().Roles(ns).Create(ctx(t), &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "list-services"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"list"}}},
	}, metav1.CreateOptions{}))
	mustCreate(cs.RbacV1().RoleBindings(ns).Create(ctx(t), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "list-services"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "list-services"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}},
	}, metav1.CreateOptions{}))

	user, groups := ServiceAccountIdentity(ns, sa)
	cfg, err := srv.ConfigFor(user, groups...)
	if err != nil {
		t.Fatalf("ConfigFor: %v", err)
	}
	c := kubernetes.NewForConfigOrDie(cfg)

	review, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx(t), &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectReview: %v", err)
	}
	if got := review.Status.UserInfo.Username; got != "system:serviceaccount:ironlb-system:ironlb-controller" {
		t.Errorf("authenticated as %q, want system:serviceaccount:ironlb-system:ironlb-controller", got)
	}
	if got := strings.Join(review.Status.UserInfo.Groups, ","); !strings.Contains(got, "system:serviceaccounts:ironlb-system") {
		t.Errorf("groups = %s, want system:serviceaccounts:ironlb-system among them", got)
	}

	// Polled: the RBAC authorizer sees new bindings through an informer.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = c.CoreV1().Services(ns).List(ctx(t), metav1.ListOptions{})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("list services in %s as the ServiceAccount: %v", ns, err)
	}
	if _, err := c.CoreV1().Services(metav1.NamespaceDefault).List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("list services in default as the ServiceAccount: err = %v, want Forbidden", err)
	}
}

// TestCRDsInstalled starts its own server (in parallel with TestServer) from
// a CRD directory and uses the new resource.
func TestCRDsInstalled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "widgets.yaml"), widgetCRD)
	writeFile(t, filepath.Join(dir, "README.md"), "not a manifest, ignored\n")

	srv := Start(t, Options{CRDDir: dir})

	ax := apiextensionsclient.NewForConfigOrDie(srv.Config)
	crd, err := ax.ApiextensionsV1().CustomResourceDefinitions().Get(ctx(t), "widgets.test.ironlb.io", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get CRD: %v", err)
	}
	if ok, reason := crdEstablished(crd); !ok {
		t.Fatalf("CRD not Established when Start returned: %s", reason)
	}

	// Usable at once through a dynamic client and through controller-runtime
	// (whose RESTMapper reads discovery).
	gvr := schema.GroupVersionResource{Group: "test.ironlb.io", Version: "v1alpha1", Resource: "widgets"}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.ironlb.io/v1alpha1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": "w1", "namespace": "default"},
		"spec":       map[string]any{"address": "192.0.2.1"},
	}}
	if _, err := dynamic.NewForConfigOrDie(srv.Config).Resource(gvr).Namespace("default").Create(ctx(t), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create Widget: %v", err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(schema.GroupVersionKind{Group: "test.ironlb.io", Version: "v1alpha1", Kind: "Widget"})
	if err := srv.Client(t, nil).Get(ctx(t), client.ObjectKey{Namespace: "default", Name: "w1"}, got); err != nil {
		t.Fatalf("get Widget with controller-runtime: %v", err)
	}
	if addr, _, _ := unstructured.NestedString(got.Object, "spec", "address"); addr != "192.0.2.1" {
		t.Errorf("spec.address = %q, want 192.0.2.1", addr)
	}
}

const widgetCRD = `# A license header: a comment-only document is skipped.
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.ironlb.io
spec:
  group: test.ironlb.io
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              address: {type: string}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
`

func lbService(name string, policy corev1.IPFamilyPolicy, families ...corev1.IPFamily) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeLoadBalancer,
			IPFamilies: families,
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
			Selector:   map[string]string{"app": name},
		},
	}
	if policy != "" {
		svc.Spec.IPFamilyPolicy = ptr.To(policy)
	}
	return svc
}

func createService(t *testing.T, cs kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	t.Helper()
	got, err := cs.CoreV1().Services(svc.Namespace).Create(ctx(t), svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return got
}

func getService(t *testing.T, cs kubernetes.Interface, svc *corev1.Service) *corev1.Service {
	t.Helper()
	got, err := cs.CoreV1().Services(svc.Namespace).Get(ctx(t), svc.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Service %s/%s: %v", svc.Namespace, svc.Name, err)
	}
	return got
}

// assertClusterIPs checks that the Service got one ClusterIP per range, in
// that order.
func assertClusterIPs(t *testing.T, svc *corev1.Service, ranges ...netip.Prefix) {
	t.Helper()
	if len(svc.Spec.ClusterIPs) != len(ranges) {
		t.Fatalf("clusterIPs = %v, want one in each of %v", svc.Spec.ClusterIPs, ranges)
	}
	for i, s := range svc.Spec.ClusterIPs {
		a, err := netip.ParseAddr(s)
		if err != nil || !ranges[i].Contains(a) {
			t.Errorf("clusterIPs[%d] = %q, want an address in %s", i, s, ranges[i])
		}
	}
	if svc.Spec.ClusterIP != svc.Spec.ClusterIPs[0] {
		t.Errorf("clusterIP = %q, want clusterIPs[0] %q", svc.Spec.ClusterIP, svc.Spec.ClusterIPs[0])
	}
}

func clientFromKubeconfig(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("loading kubeconfig %s: %v", path, err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client from %s: %v", path, err)
	}
	return c
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ctx is a per-call deadline, so a hung API server fails the test instead of
// hanging it until the global test timeout.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
