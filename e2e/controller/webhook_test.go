package controller_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kubeapi"
)

// serveWebhook starts the controller with its webhook on a loopback port,
// with a certificate from a throw-away CA, and registers it with the API
// server for every ironlb.io kind.
func (e *env) serveWebhook() {
	e.t.Helper()
	certDir := e.t.TempDir()
	caPEM, err := kubeapi.WriteServingCert(certDir)
	if err != nil {
		e.t.Fatal(err)
	}
	port := freePort(e.t)
	e.startController("-webhook-port", fmt.Sprint(port), "-webhook-host", "127.0.0.1", "-webhook-cert-dir", certDir)
	e.create(cluster.WebhookConfiguration(fmt.Sprintf("https://127.0.0.1:%d/validate-ironlb-io-v1beta1", port), caPEM))
	// The API server calls the webhook only once it has loaded the
	// configuration just created: until then every request passes
	// unchecked. A request that only the webhook rejects tells when it is
	// called.
	waitFor(e.t, 30*time.Second, "the API server to call the webhook", func() (bool, error) {
		err := e.c.Create(context.Background(), pool("probe", "192.0.2.1-192.0.2.0"), client.DryRunAll)
		return err != nil && strings.Contains(err.Error(), "spec.addresses[0]"), err
	})
	// The webhook admits valid objects once the controller's cache has
	// synced.
	waitFor(e.t, 30*time.Second, "the webhook to answer", func() (bool, error) {
		err := e.c.Create(context.Background(), pool("probe", "192.0.2.0/32"), client.DryRunAll)
		return err == nil, err
	})
}

func TestWebhookRejectsInvalidConfigurationNamingTheField(t *testing.T) {
	e := newEnv(t, kubeapi.Options{})
	e.serveWebhook()
	ctx := context.Background()

	err := e.c.Create(ctx, pool("reversed", "203.0.113.100-203.0.113.90"))
	if err == nil || !strings.Contains(err.Error(), "spec.addresses[0]") {
		t.Fatalf("reversed range: want a rejection naming spec.addresses[0], got %v", err)
	}

	if err := e.c.Create(ctx, pool("web", "203.0.113.0/25")); err != nil {
		t.Fatalf("valid pool rejected: %v", err)
	}
	err = e.c.Create(ctx, pool("clash", "203.0.113.64/26"))
	if err == nil || !strings.Contains(err.Error(), `"web"`) || !strings.Contains(err.Error(), "spec.addresses[0]") {
		t.Fatalf("overlapping pool: want a rejection naming pool web and the field, got %v", err)
	}

	adv := &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "lan"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"web"}}}
	if err := e.c.Create(ctx, adv); err != nil {
		t.Fatalf("valid advertisement rejected: %v", err)
	}
	bad := &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Name: "typo"}, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"wbe"}}}
	if err := e.c.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "spec.ipAddressPools[0]") {
		t.Fatalf("unknown pool reference: want a rejection naming spec.ipAddressPools[0], got %v", err)
	}
	var web v1beta1.IPAddressPool
	if err := e.c.Get(ctx, client.ObjectKey{Name: "web"}, &web); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, &web); err == nil || !strings.Contains(err.Error(), "lan") {
		t.Fatalf("deleting a pool an advertisement uses: want a rejection naming L2Advertisement lan, got %v", err)
	}
	peer := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1beta1.BGPPeerSpec{MyASN: 64500, ASN: 64501, Address: "198.51.100.1", BFDProfile: "missing"}}
	if err := e.c.Create(ctx, peer); err == nil || !strings.Contains(err.Error(), "spec.bfdProfile") {
		t.Fatalf("unknown BFD profile: want a rejection naming spec.bfdProfile, got %v", err)
	}
}
