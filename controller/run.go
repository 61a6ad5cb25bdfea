package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/controller/allocation"
	"github.com/ironlb/ironlb/controller/memberkey"
	"github.com/ironlb/ironlb/controller/metrics"
	"github.com/ironlb/ironlb/controller/pools"
	"github.com/ironlb/ironlb/controller/speakers"
	ironwebhook "github.com/ironlb/ironlb/controller/webhook"
	"github.com/ironlb/ironlb/controller/webhookcert"
	"github.com/ironlb/ironlb/pkg/kubeclient"
	"github.com/ironlb/ironlb/pkg/metricsserving"
	"github.com/ironlb/ironlb/pkg/trigger"
)

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=ironlb-system
// The controller reads and writes two Secrets of its namespace, by name, and
// creates none (create cannot be limited to a name): the chart creates both
// empty and the controller fills them. The webhook certificate is watched
// (list and watch with a metadata.name field selector, see webhookcert); the
// members key is read once at start.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;update,namespace=ironlb-system,resourceNames=ironlb-webhook-cert
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;update,namespace=ironlb-system,resourceNames=ironlb-members
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update;patch

func run(ctx context.Context, o options) error {
	log := newLogger(o.logLevel)
	ctrl.SetLogger(log)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	restCfg, err := kubeclient.Config(o.kubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = float32(o.qps), o.burst

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}

	var lock resourcelock.Interface // nil: controller-runtime's own (unused without leader election)
	var leaseLock *resourcelock.LeaseLock
	if o.leaderElect {
		if leaseLock, err = newLeaderLock(restCfg, o); err != nil {
			return err
		}
		lock = &twinGuard{Interface: leaseLock, onTwin: func() {
			log.Error(errTwin, "stopping", "identity", o.leaderIdentity, "lease", leaseLock.Describe())
			cancel(errTwin)
		}}
	}
	mgr, err := ctrl.NewManager(restCfg, manager.Options{
		Scheme:                              scheme,
		Logger:                              log,
		LeaderElection:                      o.leaderElect,
		LeaderElectionResourceLockInterface: lock,
		// Still the name of the election in the leader election metrics.
		LeaderElectionID:        o.leaderElectionID,
		LeaderElectionNamespace: o.leaderElectionNS,
		// A replica that stops cleanly hands over at once instead of
		// making the next leader wait for the Lease to expire.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
		Metrics:                       metricsserving.ServerOptions(o.metrics),
		HealthProbeBindAddress:        o.probeAddr,
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			// Least privilege: the only Secret the controller may watch
			// is its webhook certificate (its Role names it), so any
			// Secret read through this cache asks for that one only.
			// webhookcert.Files copies it to the webhook server's files.
			// (The rotator has a cache of its own, narrowed the same way
			// in setupWebhook; the members key is read directly.)
			&corev1.Secret{}: {Namespaces: map[string]cache.Config{o.leaderElectionNS: {
				FieldSelector: fields.OneTermEqualSelector("metadata.name", o.webhookCertSecret),
			}}},
			// The only Lease it watches is the speakers' presence.
			&coordinationv1.Lease{}: {Namespaces: map[string]cache.Config{o.leaderElectionNS: {}}},
			&admissionregistrationv1.ValidatingWebhookConfiguration{}: {
				Field: fields.OneTermEqualSelector("metadata.name", o.webhookConfigName),
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	if leaseLock != nil {
		// The lock had to exist before the manager; its events ("became
		// leader") go through the manager's recorder, as they would with
		// controller-runtime's own lock. Nothing reads it before Start.
		leaseLock.LockConfig.EventRecorder = mgr.GetEventRecorderFor(o.leaderIdentity)
	}

	m := metrics.New(ctrlmetrics.Registry)
	state := allocation.NewState()
	recorder := mgr.GetEventRecorderFor("ironlb-controller")
	services, poolStatus := &trigger.Trigger{}, &trigger.Trigger{}

	svcReconciler := &allocation.Reconciler{
		Client: mgr.GetClient(), Recorder: recorder, State: state, Metrics: m,
		LoadBalancerClass: o.lbClass, IgnoreClassless: o.ignoreClassless,
		IPMode: corev1.LoadBalancerIPMode(o.ipMode),
	}
	if err := svcReconciler.SetupWithManager(mgr, services, o.workers); err != nil {
		return fmt.Errorf("set up service controller: %w", err)
	}
	if err := (&pools.ConfigReconciler{
		Client: mgr.GetClient(), Recorder: recorder, State: state, Metrics: m,
		Restore: svcReconciler.Restore, Services: services,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up config controller: %w", err)
	}
	statusReconciler := &pools.StatusReconciler{
		Client: mgr.GetClient(), State: state, Metrics: m, Trigger: poolStatus,
	}
	if err := statusReconciler.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up pool status controller: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(statusReconciler.FlushDirty)); err != nil {
		return fmt.Errorf("add pool status flusher: %w", err)
	}

	// Leader only: says so in the speakers' statuses when none runs.
	if err := mgr.Add(&speakers.Watcher{Client: mgr.GetClient(), Namespace: o.leaderElectionNS,
		Log: log.WithName("speakers"), Period: 100 * time.Millisecond}); err != nil {
		return fmt.Errorf("add speaker watcher: %w", err)
	}

	if o.membersSecret != "" {
		// Leader only: one replica creates the speakers' liveness key.
		err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return memberkey.Ensure(ctx, mgr.GetAPIReader(), mgr.GetClient(), o.leaderElectionNS, o.membersSecret)
		}))
		if err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if o.webhookPort != 0 {
		if err := setupWebhook(mgr, o, scheme); err != nil {
			return err
		}
	}
	log.Info("starting", "leaderElection", o.leaderElect, "identity", o.leaderIdentity, "lbClass", o.lbClass, "ignoreClassless", o.ignoreClassless, "ipMode", o.ipMode)
	err = mgr.Start(ctx)
	if cause := context.Cause(ctx); errors.Is(cause, errTwin) {
		return cause
	}
	return err
}

// setupWebhook serves the validating webhook. With webhook-cert-secret the
// controller keeps its own CA and certificate (cert-controller) in that
// Secret, which must exist (the chart creates it empty), and starts serving
// once they are in place; otherwise the certificate files are expected in
// webhook-cert-dir already.
func setupWebhook(mgr ctrl.Manager, o options, scheme *runtime.Scheme) error {
	server := webhook.NewServer(webhook.Options{Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertDir})
	// The webhook reads the current objects from the API server, not from
	// the cache: an object created a moment ago must already count (an
	// advertisement created just before its pool is deleted).
	server.Register(ironwebhook.Path, &webhook.Admission{Handler: ironwebhook.NewValidator(mgr.GetAPIReader(), scheme)})
	if o.webhookCertSecret == "" {
		return mgr.Add(server)
	}
	ready := make(chan struct{})
	// The rotator's own cache would list every Secret of the namespace,
	// which the controller's Role forbids: it sees only its Secret and its
	// webhook configuration.
	scoped := webhookcert.Scoped(mgr,
		webhookcert.SecretCollection(o.leaderElectionNS, o.webhookCertSecret),
		webhookcert.WebhookConfigurationCollection(o.webhookConfigName))
	err := rotator.AddRotator(scoped, &rotator.CertRotator{
		SecretKey:      types.NamespacedName{Namespace: o.leaderElectionNS, Name: o.webhookCertSecret},
		CertDir:        o.webhookCertDir,
		CAName:         "ironlb-ca",
		CAOrganization: "ironlb",
		DNSName:        fmt.Sprintf("%s.%s.svc", o.webhookServiceName, o.leaderElectionNS),
		ExtraDNSNames:  o.webhookExtraDNSNames,
		IsReady:        ready,
		Webhooks:       []rotator.WebhookInfo{{Name: o.webhookConfigName, Type: rotator.Validating}},
		// Every replica serves the webhook, so every replica needs the
		// certificate, leader or not.
		RequireLeaderElection: false,
	})
	if err != nil {
		return fmt.Errorf("set up webhook certificates: %w", err)
	}
	files := &webhookcert.Files{Client: mgr.GetClient(), Dir: o.webhookCertDir,
		Secret: types.NamespacedName{Namespace: o.leaderElectionNS, Name: o.webhookCertSecret}}
	if err := files.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up webhook certificate files: %w", err)
	}
	return mgr.Add(everyReplica(func(ctx context.Context) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return nil
		}
		return server.Start(ctx)
	}))
}

// everyReplica is a Runnable that runs on every replica, leader or not.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

func newLogger(level string) logr.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
