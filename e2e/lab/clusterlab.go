package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/cluster"
	"github.com/ironlb/ironlb/e2e/kcluster"
)

// chartNamespace is where `helm install` puts IronLB, as the README says.
const chartNamespace = "ironlb-system"

// startClusterLab starts the cluster lab: e2e/kcluster's cluster of
// kubelets on the virtual LAN, and IronLB installed from its Helm chart
// with the webhook and the datapath on, as a user installs it.
func startClusterLab(ctx context.Context, cfg serveConfig, step func(string)) (_ *backend, err error) {
	step("building the images, then starting a kubelet cluster: etcd, kube-apiserver, controller-manager, scheduler, 3 nodes (containerd, kubelet, kube-proxy), a client and a router")
	c, err := kcluster.StartProcess(ctx, kcluster.Options{Nodes: 3}, kcluster.ProcessOptions{
		Repo: cfg.repo, LabID: "lab",
		Logf: func(format string, args ...any) { slog.Info(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return nil, errors.Join(err, kcluster.RemoveImages())
	}
	closeAll := func() error { return errors.Join(c.Close(), kcluster.RemoveImages()) }
	defer func() {
		if err != nil {
			err = errors.Join(err, closeAll())
		}
	}()
	step(fmt.Sprintf("cluster up: %d nodes Ready in %s, API server %s, LAN %s, logs in %s",
		len(c.Nodes), c.StartDuration.Round(100*time.Millisecond), c.API.URL, c.Lab.Name, c.Dir()))

	chart := filepath.Join(cfg.repo, "manifests", "helm", "ironlb")
	step("helm install ironlb " + chart + " (webhook on, datapath auto), waiting for the controller and the speakers")
	if _, err := c.Helm(ctx, "install", "ironlb", chart, "--namespace", chartNamespace, "--create-namespace",
		"--set", "webhook.enabled=true", "--set", "speaker.datapath=auto", "--wait", "--timeout", "5m"); err != nil {
		return nil, err
	}
	cl, err := client.New(c.API.Config, client.Options{Scheme: cluster.Scheme()})
	if err != nil {
		return nil, err
	}
	return &backend{
		API: cl, Lab: c.Lab, URL: c.API.URL, Kubeconfig: c.API.Kubeconfig, Logs: c.Dir(),
		deploy: func(ctx context.Context, s demoService, svc *corev1.Service) (string, error) {
			return deployTestServer(ctx, c, cl, s, svc)
		},
		close: closeAll,
	}, nil
}

// deployTestServer runs s's pods as a Deployment of the test server held
// to the nodes the demo gives s (spread evenly over them), creates svc, which
// selects them, and waits until they are Ready.
func deployTestServer(ctx context.Context, c *kcluster.Cluster, cl client.Client, s demoService, svc *corev1.Service) (string, error) {
	d := kcluster.TestServerDeployment(demoNamespace, s.Name, int32(len(s.Pods)))
	d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: s.podNodes(),
			}},
		}}},
	}}
	for _, o := range []client.Object{d, svc} {
		if err := cl.Create(ctx, o); err != nil {
			return "", fmt.Errorf("create %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	pods, err := c.WaitPodsReady(ctx, demoNamespace, "app="+s.Name, len(s.Pods))
	if err != nil {
		return "", err
	}
	var where []string
	for _, p := range pods {
		where = append(where, p.Name+"@"+p.Spec.NodeName)
	}
	return "Deployment " + s.Name + ", pods " + strings.Join(where, ", "), nil
}
