package main

import (
	"context"
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
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
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

	replica, err := newReplicaManager(restCfg, scheme, o, log)
	if err != nil {
		return err
	}
	// Registered once for the process: every term's manager updates them.
	m := metrics.New(ctrlmetrics.Registry)
	c := &campaigner{
		name: o.leaderElectionID, leaseDuration: o.leaseDuration, renewDeadline: o.renewDeadline, retryPeriod: o.retryPeriod,
		log: log.WithName("leader"),
		newWork: func() (work, error) {
			mgr, err := newLeaderManager(restCfg, scheme, o, log, m)
			return leaderTerm{Manager: mgr, metrics: m}, err
		},
	}
	if o.leaderElect {
		if c.grace, err = stopGrace(o.leaseDuration, o.renewDeadline, o.retryPeriod); err != nil {
			return err
		}
		leaseLock, err := newLeaderLock(restCfg, o)
		if err != nil {
			return err
		}
		// Leader election events ("became leader") go through the
		// every-replica manager's recorder, which lives as long as the
		// process. Nothing reads it before the first campaign.
		leaseLock.LockConfig.EventRecorder = replica.GetEventRecorderFor(o.leaderIdentity)
		c.lock = &twinGuard{Interface: leaseLock, onTwin: func() {
			log.Error(errTwin, "stopping", "identity", o.leaderIdentity, "lease", leaseLock.Describe())
			cancel(errTwin)
		}}
	}

	log.Info("starting", "leaderElection", o.leaderElect, "identity", o.leaderIdentity, "lbClass", o.lbClass, "ignoreClassless", o.ignoreClassless, "ipMode", o.ipMode)
	// The every-replica manager (webhook, metrics, probes) serves from
	// start to end, across terms and while this replica is a standby. It
	// stops after the last term's work has; if it fails, everything stops.
	replicaCtx, stopReplica := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReplica()
	replicaDone := make(chan error, 1)
	go func() {
		err := replica.Start(replicaCtx)
		if replicaCtx.Err() == nil {
			cancel(fmt.Errorf("webhook, metrics and probes: %w", err))
		}
		replicaDone <- err
	}()
	err = c.run(ctx)
	stopReplica()
	if rerr := <-replicaDone; rerr != nil && err == nil {
		err = fmt.Errorf("webhook, metrics and probes: %w", rerr)
	}
	return err
}

// cacheOptions narrows what both managers' caches may see to what the
// controller's Role grants.
func cacheOptions(o options) cache.Options {
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
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
	}}
}

// newReplicaManager builds the manager every replica runs for its whole
// life, leader or not: the metrics and probe servers, the validating
// webhook and its certificate. It has no leader election: the leader-only
// work runs in a manager of its own per term (newLeaderManager).
func newReplicaManager(restCfg *rest.Config, scheme *runtime.Scheme, o options, log logr.Logger) (manager.Manager, error) {
	mgr, err := ctrl.NewManager(restCfg, manager.Options{
		Scheme:                 scheme,
		Logger:                 log.WithName("replica"),
		Metrics:                metricsserving.ServerOptions(o.metrics),
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		Cache:                  cacheOptions(o),
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("add health check: %w", err)
	}
	if o.webhookPort != 0 {
		if err := setupWebhook(mgr, o, scheme); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// leaderTerm runs a term's manager with the leader-only series reset at its
// start and end.
type leaderTerm struct {
	manager.Manager
	metrics *metrics.Metrics
}

func (t leaderTerm) Start(ctx context.Context) error {
	t.metrics.Reset()
	defer t.metrics.Reset()
	return t.Manager.Start(ctx)
}

// newLeaderManager builds the manager of one leader term: every
// controller and runnable that only the leader runs, with fresh state
// rebuilt from the API server. It serves nothing (the every-replica
// manager does) and has no leader election of its own: it runs only while
// this process holds the Lease (campaigner).
func newLeaderManager(restCfg *rest.Config, scheme *runtime.Scheme, o options, log logr.Logger, m *metrics.Metrics) (manager.Manager, error) {
	waitForever := time.Duration(-1) // campaigner bounds the stop
	mgr, err := ctrl.NewManager(restCfg, manager.Options{
		Scheme:                  scheme,
		Logger:                  log,
		Metrics:                 metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:  "0",
		GracefulShutdownTimeout: &waitForever,
		Cache:                   cacheOptions(o),
		// Controller names must be unique among live controllers;
		// every term registers the same ones again, after the last
		// term's have stopped.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}

	state := allocation.NewState()
	recorder := mgr.GetEventRecorderFor("ironlb-controller")
	services, poolStatus := &trigger.Trigger{}, &trigger.Trigger{}

	svcReconciler := &allocation.Reconciler{
		Client: mgr.GetClient(), Recorder: recorder, State: state, Metrics: m, Retry: services,
		LoadBalancerClass: o.lbClass, IgnoreClassless: o.ignoreClassless,
		IPMode: corev1.LoadBalancerIPMode(o.ipMode),
	}
	if err := svcReconciler.SetupWithManager(mgr, services, o.workers); err != nil {
		return nil, fmt.Errorf("set up service controller: %w", err)
	}
	if err := (&pools.ConfigReconciler{
		Client: mgr.GetClient(), Recorder: recorder, State: state, Metrics: m,
		Restore: svcReconciler.Restore, Services: services,
	}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up config controller: %w", err)
	}
	statusReconciler := &pools.StatusReconciler{
		Client: mgr.GetClient(), State: state, Metrics: m, Trigger: poolStatus,
	}
	if err := statusReconciler.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up pool status controller: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(statusReconciler.FlushDirty)); err != nil {
		return nil, fmt.Errorf("add pool status flusher: %w", err)
	}

	// Says so in the speakers' statuses when none runs.
	if err := mgr.Add(&speakers.Watcher{Client: mgr.GetClient(), Namespace: o.leaderElectionNS,
		Log: log.WithName("speakers"), Period: 100 * time.Millisecond}); err != nil {
		return nil, fmt.Errorf("add speaker watcher: %w", err)
	}

	if o.membersSecret != "" {
		// One replica creates the speakers' liveness key.
		err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			err := memberkey.Ensure(ctx, mgr.GetAPIReader(), mgr.GetClient(), o.leaderElectionNS, o.membersSecret)
			if ctx.Err() != nil {
				return nil // the term ended first; the next one tries again
			}
			return err
		}))
		if err != nil {
			return nil, err
		}
	}
	return mgr, nil
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
	// Ready once the webhook answers: the webhook Service sends the API
	// server's calls to ready replicas only, and every replica, leader or
	// standby, serves it.
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
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
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		select {
		case <-ready:
		case <-ctx.Done():
			return nil
		}
		return server.Start(ctx)
	}))
}

func newLogger(level string) logr.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
