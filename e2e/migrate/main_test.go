// Package migrate_test checks `ironlbctl migrate` end to end: MetalLB's
// documentation examples converted and applied by the real ironlbctl to a
// real API server through IronLB's validating webhook, the real controller
// giving the Services the addresses MetalLB gives them, and Services that
// MetalLB had addressed keeping their addresses when IronLB's controller
// replaces MetalLB's.
package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// ctlBin is the ironlbctl under test, built fresh by TestMain.
var ctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ironlb-migrate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctlBin = filepath.Join(dir, "ironlbctl")
	build := exec.Command("go", "build", "-o", ctlBin, "github.com/ironlb/ironlb/ironlbctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ironlbctl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// migrateApply runs `ironlbctl migrate -f file --apply` as the cluster
// admin and returns the IronLB objects it printed (loaded back with the
// controller's own loader, so the printed YAML is what was applied).
func migrateApply(t *testing.T, api *kubeapi.Server, file string) config.Resources {
	t.Helper()
	kubeconfig, err := api.KubeconfigFor("admin", "system:masters")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, "migrate", "-f", file, "--apply", "--kubeconfig", kubeconfig)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		t.Fatalf("ironlbctl migrate --apply %s: exit %d\n%s\n%s", file, ee.ExitCode(), stdout.String(), stderr.String())
	}
	t.Logf("ironlbctl migrate -f %s --apply:\n%s%s", filepath.Base(file), stdout.String(), stderr.String())
	res, err := config.Load(&stdout, "ironlbctl migrate output")
	if err != nil {
		t.Fatalf("the printed objects do not load: %v", err)
	}
	return res
}

// objectsOf lists the objects of r as unstructured keys (kind and name).
func objectsOf(r config.Resources) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	add := func(kind string, names ...string) {
		for _, n := range names {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(v1beta1.GroupVersion.String())
			u.SetKind(kind)
			u.SetName(n)
			out = append(out, u)
		}
	}
	for _, o := range r.Pools {
		add(config.KindIPAddressPool, o.Name)
	}
	for _, o := range r.L2Advertisements {
		add(config.KindL2Advertisement, o.Name)
	}
	for _, o := range r.BGPAdvertisements {
		add(config.KindBGPAdvertisement, o.Name)
	}
	for _, o := range r.BGPPeers {
		add(config.KindBGPPeer, o.Name)
	}
	for _, o := range r.BFDProfiles {
		add(config.KindBFDProfile, o.Name)
	}
	for _, o := range r.Communities {
		add(config.KindCommunity, o.Name)
	}
	return out
}

// waitAllValid waits until the controller reports every object of r
// Valid=True for its current generation.
func waitAllValid(t *testing.T, c client.Client, r config.Resources) {
	t.Helper()
	objs := objectsOf(r)
	if len(objs) == 0 {
		t.Fatal("migrate printed no IronLB object")
	}
	for _, u := range objs {
		cluster.Eventually(t, 30*time.Second, fmt.Sprintf("%s %s Valid=True", u.GetKind(), u.GetName()), func() error {
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(u), u); err != nil {
				return err
			}
			raw, _, err := unstructured.NestedSlice(u.Object, "status", "conditions")
			if err != nil {
				return err
			}
			var conds []metav1.Condition
			for _, r := range raw {
				m, _ := r.(map[string]any)
				status, _ := m["status"].(string)
				typ, _ := m["type"].(string)
				msg, _ := m["message"].(string)
				gen, _ := m["observedGeneration"].(int64)
				conds = append(conds, metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Message: msg, ObservedGeneration: gen})
			}
			cond := meta.FindStatusCondition(conds, v1beta1.ConditionValid)
			switch {
			case cond == nil:
				return fmt.Errorf("no Valid condition")
			case cond.Status != metav1.ConditionTrue:
				return fmt.Errorf("Valid=%s: %s", cond.Status, cond.Message)
			case cond.ObservedGeneration != u.GetGeneration():
				return fmt.Errorf("condition of generation %d, object at %d", cond.ObservedGeneration, u.GetGeneration())
			}
			return nil
		})
	}
}

// testdata is the directory of MetalLB's documentation examples.
func testdata(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(kubeapi.RepoRoot(t), "e2e", "testdata", "metallb", name)
}

// eventMessages are the messages of a Service's events with reason.
func eventMessages(t *testing.T, c *cluster.Cluster, ns, name, reason string) string {
	var msgs []string
	for _, ev := range c.Events(t, "Service", ns, name, reason) {
		msgs = append(msgs, ev.Message)
	}
	return strings.Join(msgs, "\n")
}

// waitWebhook waits until IronLB's webhook answers for ironlb.io objects:
// a dry-run pool that does not compile (host bits set) is denied by it.
func waitWebhook(t *testing.T, c *cluster.Cluster) {
	t.Helper()
	cluster.Eventually(t, 30*time.Second, "the webhook to deny an invalid pool", func() error {
		err := c.Client.Create(context.Background(), cluster.Pool("webhook-probe", "203.0.113.1/24"), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), cluster.WebhookName) || !strings.Contains(err.Error(), "host bits") {
			return fmt.Errorf("not denied by %s: %v", cluster.WebhookName, err)
		}
		return nil
	})
}
