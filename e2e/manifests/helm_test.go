package manifests_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// chartCase is one set of chart values and what it must render.
type chartCase struct {
	name      string
	namespace string
	values    string // a values file
	check     func(t *testing.T, r rendered)
}

// rendered is the chart's output for one chartCase.
type rendered struct {
	docs       []doc
	controller appsv1.Deployment
	speaker    appsv1.DaemonSet
}

func chartCases() []chartCase {
	return []chartCase{{
		name:      "defaults",
		namespace: "ironlb-system",
		check: func(t *testing.T, r rendered) {
			n := kinds(r.docs)
			for _, k := range expectedKinds {
				if k != "Namespace" && n[k] == 0 {
					t.Errorf("no %s", k)
				}
			}
			if n["Namespace"] != 0 {
				t.Errorf("a Namespace without namespace.create")
			}
			c, s := container(t, r.controller.Spec.Template.Spec), container(t, r.speaker.Spec.Template.Spec)
			wantArgs(t, "controller", c.Args, "-ip-mode=Proxy", "-log-level=info", "-webhook-port=9443", "-webhook-cert-secret=ironlb-webhook-cert",
				"-metrics-bind-address=:7472", "-metrics-secure=true", "-health-probe-bind-address=:7473")
			wantArgs(t, "speaker", s.Args, "-datapath=auto", "-log-level=info", "-metrics-bind-address=:7474", "-metrics-secure=true", "-members-port=7946")
			wantEqual(t, "controller metrics scheme annotation", r.controller.Spec.Template.Annotations["prometheus.io/scheme"], "https")
			wantEqual(t, "speaker metrics scheme annotation", r.speaker.Spec.Template.Annotations["prometheus.io/scheme"], "https")
			// The controller creates no Secret: the chart creates the two
			// it keeps, empty, and leaves their data to it.
			for _, name := range []string{"ironlb-members", "ironlb-webhook-cert"} {
				s := find(r.docs, "Secret", name)
				if s == nil {
					t.Errorf("no Secret %s for the controller to fill", name)
				} else if s.Object["data"] != nil || s.Object["stringData"] != nil {
					t.Errorf("Secret %s renders data; the controller fills it, upgrades must not reset it", name)
				}
			}
			if find(r.docs, "ClusterRole", "ironlb-metrics-reader") == nil {
				t.Errorf("no ClusterRole ironlb-metrics-reader for scrapers")
			}
			for _, k := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy"} {
				if n[k] != 0 {
					t.Errorf("%d %s by default, want none", n[k], k)
				}
			}
			if find(r.docs, "ClusterRoleBinding", "ironlb-metrics-reader") != nil {
				t.Errorf("a ClusterRoleBinding ironlb-metrics-reader without prometheus.scraperServiceAccount")
			}
			wantEqual(t, "controller image", c.Image, "ghcr.io/ironlb/controller:latest")
			wantEqual(t, "speaker image", s.Image, "ghcr.io/ironlb/speaker:latest")
			wantEqual(t, "controller replicas", *r.controller.Spec.Replicas, int32(2))
			// The pod name is the leader election identity: a controller
			// restarted in its pod re-acquires its own Lease at once.
			wantEqual(t, "controller POD_NAME", fieldRefOf(c.Env, "POD_NAME"), "metadata.name")
			wantEqual(t, "controller metrics annotation", r.controller.Spec.Template.Annotations["prometheus.io/port"], "7472")
			wantEqual(t, "speaker metrics annotation", r.speaker.Spec.Template.Annotations["prometheus.io/port"], "7474")
			// The security settings the workloads depend on.
			wantEqual(t, "controller runAsUser", *r.controller.Spec.Template.Spec.SecurityContext.RunAsUser, int64(65532))
			wantEqual(t, "controller runAsNonRoot", *r.controller.Spec.Template.Spec.SecurityContext.RunAsNonRoot, true)
			wantEqual(t, "speaker hostNetwork", r.speaker.Spec.Template.Spec.HostNetwork, true)
			if c.Resources.Limits.Cpu().Sign() != 0 || s.Resources.Limits.Cpu().Sign() != 0 {
				t.Errorf("a CPU limit: the speaker's failure detection needs CPU when it asks")
			}
		},
	}, {
		name:      "plain HTTP metrics",
		namespace: "ironlb-system",
		values:    "metrics:\n  secure: false\n",
		check: func(t *testing.T, r rendered) {
			wantArgs(t, "controller", container(t, r.controller.Spec.Template.Spec).Args, "-metrics-secure=false")
			wantArgs(t, "speaker", container(t, r.speaker.Spec.Template.Spec).Args, "-metrics-secure=false")
			wantEqual(t, "controller metrics scheme annotation", r.controller.Spec.Template.Annotations["prometheus.io/scheme"], "http")
		},
	}, {
		name:      "metrics certificate from a Secret",
		namespace: "ironlb-system",
		values:    "metrics:\n  certSecret: ironlb-metrics-tls\n",
		check: func(t *testing.T, r rendered) {
			for _, w := range []struct {
				name string
				spec corev1.PodSpec
			}{{"controller", r.controller.Spec.Template.Spec}, {"speaker", r.speaker.Spec.Template.Spec}} {
				c := container(t, w.spec)
				wantArgs(t, w.name, c.Args, "-metrics-secure=true", "-metrics-cert-dir=/etc/ironlb/metrics-certs")
				i := slices.IndexFunc(w.spec.Volumes, func(v corev1.Volume) bool { return v.Name == "metrics-certs" })
				if i < 0 || w.spec.Volumes[i].Secret == nil || w.spec.Volumes[i].Secret.SecretName != "ironlb-metrics-tls" {
					t.Errorf("%s: no metrics-certs volume from Secret ironlb-metrics-tls: %+v", w.name, w.spec.Volumes)
				}
				if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
					return m.Name == "metrics-certs" && m.MountPath == "/etc/ironlb/metrics-certs" && m.ReadOnly
				}) {
					t.Errorf("%s: metrics-certs not mounted read-only at /etc/ironlb/metrics-certs: %+v", w.name, c.VolumeMounts)
				}
			}
		},
	}, {
		name:      "service monitors, scraper binding and network policy",
		namespace: "ironlb-system",
		values: `prometheus:
  scraperServiceAccount:
    name: prometheus-k8s
    namespace: monitoring
  serviceMonitor:
    enabled: true
    labels:
      release: prometheus
networkPolicy:
  enabled: true
  metricsFrom:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: monitoring
`,
		check: func(t *testing.T, r rendered) {
			checkServiceMonitors(t, r, true)
			if find(r.docs, "PrometheusRule", "ironlb") != nil {
				t.Error("a PrometheusRule without prometheus.prometheusRule.enabled")
			}
			crb := find(r.docs, "ClusterRoleBinding", "ironlb-metrics-reader")
			if crb == nil {
				t.Fatal("no ClusterRoleBinding ironlb-metrics-reader")
			}
			subjects, _, _ := unstructured.NestedSlice(crb.Object, "subjects")
			wantEqual(t, "metrics reader subjects", subjects, []any{map[string]any{"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}})
			role, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
			wantEqual(t, "metrics reader role", role, "ironlb-metrics-reader")
			checkNetworkPolicy(t, r, []string{"webhook", "metrics"}, true)
		},
	}, {
		name:      "alert rules as a PrometheusRule",
		namespace: "ironlb-system",
		values:    "prometheus:\n  prometheusRule:\n    enabled: true\n    labels:\n      release: prometheus\n",
		check:     checkPrometheusRule,
	}, {
		name:      "network policy without the webhook, plain service monitors",
		namespace: "ironlb-system",
		values:    "webhook:\n  enabled: false\nmetrics:\n  secure: false\nnetworkPolicy:\n  enabled: true\nprometheus:\n  serviceMonitor:\n    enabled: true\n",
		check: func(t *testing.T, r rendered) {
			checkNetworkPolicy(t, r, []string{"metrics"}, false)
			checkServiceMonitors(t, r, false)
		},
	}, {
		name:      "webhook disabled",
		namespace: "ironlb-system",
		values:    "webhook:\n  enabled: false\n",
		check: func(t *testing.T, r rendered) {
			n := kinds(r.docs)
			if n["ValidatingWebhookConfiguration"] != 0 || n["Service"] != 0 {
				t.Errorf("webhook disabled, yet %d ValidatingWebhookConfiguration and %d Service", n["ValidatingWebhookConfiguration"], n["Service"])
			}
			if find(r.docs, "Secret", "ironlb-webhook-cert") != nil {
				t.Errorf("webhook disabled, yet a Secret ironlb-webhook-cert")
			}
			c := container(t, r.controller.Spec.Template.Spec)
			wantArgs(t, "controller", c.Args, "-webhook-port=0")
			for _, a := range c.Args {
				if strings.HasPrefix(a, "-webhook-cert-secret") {
					t.Errorf("controller arg %s with the webhook disabled", a)
				}
			}
			for _, p := range c.Ports {
				if p.Name == "webhook" {
					t.Errorf("controller webhook port with the webhook disabled")
				}
			}
		},
	}, {
		name:      "webhook certificate Secret renamed",
		namespace: "ironlb-system",
		values:    "webhook:\n  certSecret: my-webhook-cert\n",
		check: func(t *testing.T, r rendered) {
			if find(r.docs, "Secret", "my-webhook-cert") == nil || find(r.docs, "Secret", "ironlb-webhook-cert") != nil {
				t.Errorf("want the Secret my-webhook-cert instead of ironlb-webhook-cert")
			}
			wantArgs(t, "controller", container(t, r.controller.Spec.Template.Spec).Args, "-webhook-cert-secret=my-webhook-cert")
			role := find(r.docs, "Role", "ironlb-controller")
			if role == nil {
				t.Fatal("no Role ironlb-controller")
			}
			var named []any
			for _, rule := range role.Object["rules"].([]any) {
				names, _ := rule.(map[string]any)["resourceNames"].([]any)
				named = append(named, names...)
			}
			if !reflect.DeepEqual(named, []any{"ironlb-members", "my-webhook-cert"}) {
				t.Errorf("Role ironlb-controller names the Secrets %v, want ironlb-members and my-webhook-cert", named)
			}
		},
	}, {
		name:      "datapath off",
		namespace: "ironlb-system",
		values:    "speaker:\n  datapath: \"off\"\n",
		check: func(t *testing.T, r rendered) {
			wantArgs(t, "controller", container(t, r.controller.Spec.Template.Spec).Args, "-ip-mode=VIP")
			wantArgs(t, "speaker", container(t, r.speaker.Spec.Template.Spec).Args, "-datapath=off")
		},
	}, {
		name:      "nftables datapath without prometheus annotations",
		namespace: "ironlb-system",
		values: `prometheus:
  annotations: false
speaker:
  datapath: nftables
  podAnnotations:
    example.com/team: network
`,
		check: func(t *testing.T, r rendered) {
			wantArgs(t, "controller", container(t, r.controller.Spec.Template.Spec).Args, "-ip-mode=Proxy")
			wantArgs(t, "speaker", container(t, r.speaker.Spec.Template.Spec).Args, "-datapath=nftables")
			if a := r.controller.Spec.Template.Annotations; len(a) != 0 {
				t.Errorf("controller pod annotations %v, want none", a)
			}
			wantEqual(t, "speaker pod annotations", r.speaker.Spec.Template.Annotations, map[string]string{"example.com/team": "network"})
		},
	}, {
		name:      "custom images and namespace and scheduling",
		namespace: "lb",
		values: `namespace:
  create: true
logLevel: debug
controller:
  image:
    repository: registry.example.com/ironlb/controller
    tag: v9.8.7
    pullPolicy: Always
  replicas: 3
  metricsPort: 9472
  extraArgs: ["-workers=8"]
speaker:
  image:
    repository: registry.example.com/ironlb/speaker
    tag: v9.8.7
  membersPort: 7999
  nodeSelector:
    example.com/edge: "true"
  tolerations: []
  priorityClassName: system-node-critical
`,
		check: func(t *testing.T, r rendered) {
			c, s := container(t, r.controller.Spec.Template.Spec), container(t, r.speaker.Spec.Template.Spec)
			wantEqual(t, "controller image", c.Image, "registry.example.com/ironlb/controller:v9.8.7")
			wantEqual(t, "controller pull policy", c.ImagePullPolicy, corev1.PullAlways)
			wantEqual(t, "speaker image", s.Image, "registry.example.com/ironlb/speaker:v9.8.7")
			wantEqual(t, "speaker pull policy", s.ImagePullPolicy, corev1.PullIfNotPresent)
			wantEqual(t, "controller replicas", *r.controller.Spec.Replicas, int32(3))
			wantArgs(t, "controller", c.Args, "-log-level=debug", "-metrics-bind-address=:9472", "-workers=8")
			wantEqual(t, "controller metrics port", c.Ports[0].ContainerPort, int32(9472))
			wantEqual(t, "controller metrics annotation", r.controller.Spec.Template.Annotations["prometheus.io/port"], "9472")
			wantArgs(t, "speaker", s.Args, "-log-level=debug", "-members-port=7999")
			wantEqual(t, "speaker nodeSelector", r.speaker.Spec.Template.Spec.NodeSelector, map[string]string{"example.com/edge": "true"})
			wantEqual(t, "speaker tolerations", len(r.speaker.Spec.Template.Spec.Tolerations), 0)
			wantEqual(t, "speaker priorityClassName", r.speaker.Spec.Template.Spec.PriorityClassName, "system-node-critical")
			ns := find(r.docs, "Namespace", "lb")
			if ns == nil {
				t.Fatalf("no Namespace lb with namespace.create")
			}
			wantEqual(t, "namespace pod security", ns.GetLabels()["pod-security.kubernetes.io/enforce"], "privileged")
			// Everything namespaced, and every reference to the namespace,
			// follows the release namespace.
			for _, d := range r.docs {
				if got := d.obj.GetNamespace(); got != "" && got != "lb" {
					t.Errorf("%s %s in namespace %q, want lb", d.obj.GetKind(), d.obj.GetName(), got)
				}
			}
			for _, b := range []string{"ClusterRoleBinding", "RoleBinding"} {
				for _, name := range []string{"ironlb-controller", "ironlb-speaker"} {
					o := find(r.docs, b, name)
					if o == nil {
						t.Errorf("no %s %s", b, name)
						continue
					}
					subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
					if len(subjects) != 1 || subjects[0].(map[string]any)["namespace"] != "lb" {
						t.Errorf("%s %s subjects %v, want the ServiceAccount in lb", b, name, subjects)
					}
				}
			}
			vwc := find(r.docs, "ValidatingWebhookConfiguration", "ironlb-validating-webhook")
			if vwc == nil {
				t.Fatal("no ValidatingWebhookConfiguration")
			}
			webhooks, _, _ := unstructured.NestedSlice(vwc.Object, "webhooks")
			svcNS, _, _ := unstructured.NestedString(webhooks[0].(map[string]any), "clientConfig", "service", "namespace")
			wantEqual(t, "webhook service namespace", svcNS, "lb")
		},
	}}
}

// TestHelmChartAppliesWithServerSideDryRun renders the chart with each
// value set, checks that the values took effect, and applies the result.
func TestHelmChartAppliesWithServerSideDryRun(t *testing.T) {
	root := repoRoot(t)
	api := kubeapi.Start(t, kubeapi.Options{})
	c := api.Client(t, nil)
	for _, tc := range chartCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, root, tc)
			docs := r.docs
			tc.check(t, r)
			if tc.namespace != "ironlb-system" && find(docs, "Namespace", tc.namespace) == nil {
				t.Fatalf("namespace %s is not rendered: cannot apply", tc.namespace)
			}
			if find(docs, "Namespace", "ironlb-system") == nil && tc.namespace == "ironlb-system" {
				docs = append(docs, doc{obj: namespace(tc.namespace), source: "test"})
			}
			// The test API server has no Prometheus Operator CRDs: the
			// ServiceMonitors and the PrometheusRule are checked by
			// checkServiceMonitors and checkPrometheusRule only.
			docs = slices.DeleteFunc(docs, func(d doc) bool {
				return d.obj.GetKind() == "ServiceMonitor" || d.obj.GetKind() == "PrometheusRule"
			})
			applyDryRun(t, c, docs)
		})
	}
}

// TestHelmChartRejectsBadValues: values.schema.json turns a typo into an
// error naming the value instead of a broken workload.
func TestHelmChartRejectsBadValues(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range []struct{ values, want string }{
		{values: "speaker:\n  datapath: ebpf\n", want: "datapath"},
		{values: "logLevel: verbose\n", want: "logLevel"},
		{values: "controller:\n  replica: 2\n", want: "replica"},
		{values: "webhook:\n  port: 0\n", want: "port"},
	} {
		out, err := runHelm(t, root, templateArgs(t, root, "ironlb-system", tc.values)...)
		if err == nil {
			t.Errorf("values %q: helm template succeeded, want an error", tc.values)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("values %q: error does not name %s:\n%s", tc.values, tc.want, out)
		}
	}
}

func TestHelmLint(t *testing.T) {
	root := repoRoot(t)
	for _, tc := range chartCases() {
		args := []string{"lint", "--strict", filepath.Join(root, "manifests", "helm", "ironlb"), "--namespace", tc.namespace}
		if tc.values != "" {
			args = append(args, "-f", valuesFile(t, tc.values))
		}
		if out, err := runHelm(t, root, args...); err != nil {
			t.Errorf("helm lint (%s): %v\n%s", tc.name, err, out)
		}
	}
}

// helmBin is the pinned helm: $IRONLB_TOOLS_BIN/helm, else
// <repo>/.tools/bin/helm. Missing, the test fails: it is built by `make tools`.
func helmBin(t *testing.T, root string) string {
	t.Helper()
	dir := os.Getenv(kubeapi.EnvToolsBin)
	if dir == "" {
		dir = filepath.Join(root, ".tools", "bin")
	}
	bin := filepath.Join(dir, "helm")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Fatalf("helm not found at %s (%v): run make tools (hack/build-tools.sh)", bin, err)
	}
	return bin
}

// runHelm runs helm and returns its stdout, and on failure its stderr too.
func runHelm(t *testing.T, root string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t, root), args...)
	// helm keeps caches and repository configuration under these; a test
	// must not read or write the user's.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return append(stdout.Bytes(), stderr.Bytes()...), err
	}
	return stdout.Bytes(), nil
}

func templateArgs(t *testing.T, root, namespace, values string) []string {
	args := []string{"template", "ironlb", filepath.Join(root, "manifests", "helm", "ironlb"), "--namespace", namespace, "--include-crds"}
	if values != "" {
		args = append(args, "-f", valuesFile(t, values))
	}
	return args
}

// helmTemplate renders the chart as `make manifests` does.
func helmTemplate(t *testing.T, root, namespace, values string) []byte {
	t.Helper()
	out, err := runHelm(t, root, templateArgs(t, root, namespace, values)...)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	return out
}

// valuesFile writes values to a file for helm's -f, outside t.TempDir():
// helm splits -f at commas, and subtest names may hold some.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	f, err := os.CreateTemp("", "ironlb-values-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(values); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func toTyped(t *testing.T, u *unstructured.Unstructured, into any) {
	t.Helper()
	if u == nil {
		t.Fatalf("no %T rendered", into)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

func container(t *testing.T, spec corev1.PodSpec) corev1.Container {
	t.Helper()
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	return spec.Containers[0]
}

// fieldRefOf is the downward API field an environment variable is set from.
func fieldRefOf(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return e.ValueFrom.FieldRef.FieldPath
		}
	}
	return ""
}

func wantArgs(t *testing.T, what string, args []string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(args, w) {
			t.Errorf("%s args %q lack %s", what, args, w)
		}
	}
}

func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func namespace(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Namespace")
	u.SetName(name)
	return u
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// checkPrometheusRule: the chart's PrometheusRule holds every alert of
// manifests/monitoring/ironlb-alerts.yaml, unchanged (the Prometheus
// templates in the annotations are not Helm's to expand).
func checkPrometheusRule(t *testing.T, r rendered) {
	t.Helper()
	pr := find(r.docs, "PrometheusRule", "ironlb")
	if pr == nil {
		t.Fatal("no PrometheusRule ironlb")
	}
	wantEqual(t, "PrometheusRule release label", pr.GetLabels()["release"], "prometheus")
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "manifests", "monitoring", "ironlb-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	wantEqual(t, "PrometheusRule groups", groups, file["groups"].([]any))
	found := false
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, rule := range rules {
			if rule.(map[string]any)["alert"] == "IronLBVIPNotAnswering" {
				found = true
			}
		}
	}
	if !found {
		t.Error("PrometheusRule lacks IronLBVIPNotAnswering")
	}
}
