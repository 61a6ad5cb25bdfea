// Command speaker runs on every node (DaemonSet, host network) and makes the
// Services' external IPs reachable from the node's network.
//
// This version follows the configuration (it compiles the ironlb.io objects
// with the same compiler as the controller and reports whether they are
// valid); announcing addresses with ARP/NDP and BGP is built on top of it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/config"
	"github.com/ironlb/ironlb/config/v1beta1"
	"github.com/ironlb/ironlb/pkg/configsource"
)

// +kubebuilder:rbac:groups="",resources=services;endpoints;nodes;namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

func main() {
	fs := flag.NewFlagSet("speaker", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file; empty: in-cluster configuration")
	nodeName := fs.String("node-name", os.Getenv("NODE_NAME"), "name of the Node this speaker runs on")
	metricsAddr := fs.String("metrics-bind-address", ":7474", "address of the Prometheus endpoint; 0 disables it")
	_ = fs.Parse(os.Args[1:])

	log := logr.FromSlogHandler(slog.NewJSONHandler(os.Stderr, nil))
	ctrl.SetLogger(log)
	if *nodeName == "" {
		fmt.Fprintln(os.Stderr, "speaker: -node-name (or NODE_NAME) is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *kubeconfig, *nodeName, *metricsAddr); err != nil {
		fmt.Fprintln(os.Stderr, "speaker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log logr.Logger, kubeconfig, node, metricsAddr string) error {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme: scheme, Logger: log,
		Metrics: metricsserver.Options{BindAddress: metricsAddr},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	key := reconcile.Request{NamespacedName: client.ObjectKey{Name: "ironlb-config"}}
	toKey := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{key}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("speaker-config")
	for _, o := range configsource.Objects() {
		b = b.Watches(o, toKey)
	}
	err = b.Complete(reconcile.Func(func(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
		res, err := configsource.List(ctx, mgr.GetClient())
		if err != nil {
			return reconcile.Result{}, err
		}
		if _, err := config.Compile(res); err != nil {
			log.Info("configuration rejected, the previous one stays in force", "node", node, "errors", err.Error())
			return reconcile.Result{}, nil
		}
		log.Info("configuration compiled", "node", node, "pools", len(res.Pools))
		return reconcile.Result{}, nil
	}))
	if err != nil {
		return fmt.Errorf("set up config watch: %w", err)
	}
	return mgr.Start(ctx)
}
