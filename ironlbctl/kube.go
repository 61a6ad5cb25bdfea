package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/ironlbctl/snapshot"
	"github.com/ironlb/ironlb/ironlbctl/why"
)

// restConfig loads the kubeconfig as kubectl does: --kubeconfig, else
// $KUBECONFIG, else ~/.kube/config (clientcmd's default loading rules).
func (e env) restConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if e.kubeconfig != "" {
		rules.ExplicitPath = e.kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: e.context})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = 15 * time.Second
	return cfg, nil
}

func (e env) client() (client.Client, error) {
	cfg, err := e.restConfig()
	if err != nil {
		return nil, err
	}
	scheme, err := snapshot.Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

func (e env) snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	return snapshot.Fetch(ctx, c, e.namespace)
}

func (e env) whyOptions() why.Options {
	return why.Options{LoadBalancerClass: e.lbClass, IgnoreClassless: e.ignoreClassless, Now: time.Now()}
}
