package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// Kinds of lab: the demo (modes, pools, Services, the table) is the same,
// the Kubernetes under it differs.
const (
	// kindProcess: etcd, kube-apiserver, the controller and a speaker per
	// node as processes; the pods are network namespaces running an echo
	// server, their Pod and EndpointSlice objects written by the lab.
	kindProcess = "process"
	// kindCluster: e2e/kcluster's cluster of kubelets (containerd,
	// kube-proxy, controller-manager, scheduler), IronLB installed from its
	// Helm chart and images, the test server as real Deployments.
	kindCluster = "cluster"
)

// checkKind rejects an unknown -kind (LAB=...).
func checkKind(kind string) error {
	if kind != kindProcess && kind != kindCluster {
		return fmt.Errorf("unknown lab kind %q (LAB=%s): want %s or %s", kind, kind, kindProcess, kindCluster)
	}
	return nil
}

// backend is a started lab of one kind, before the demo is applied.
type backend struct {
	API        client.Client
	Lab        *vlan.Lab
	URL        string // the API server
	Kubeconfig string // admin
	Logs       string // where the cluster's daemons log, when not in the state directory
	// deploy starts the pods of s and creates svc, the Service in front of
	// them; it returns how they run, for the progress.
	deploy func(ctx context.Context, s demoService, svc *corev1.Service) (string, error)
	// close tears everything of the backend down.
	close func() error
}

// askerFor is how the launcher asks the pods of a lab of kind.
func askerFor(kind string, dial dialer) asker {
	if kind == kindCluster {
		return httpAsker(dial)
	}
	return lineAsker(dial)
}

// kindOf is the kind of a published lab; labs from before kinds were
// process labs.
func kindOf(in info) string {
	if in.Kind == "" {
		return kindProcess
	}
	return in.Kind
}

// kindLine says above the table what runs the demo.
func kindLine(kind string) string {
	if kind == kindCluster {
		return "Cluster lab: 3 kubelet nodes (containerd, kube-proxy), IronLB installed by `helm install` of manifests/helm/ironlb, the test server as Deployments."
	}
	return "Process lab: kube-apiserver, the controller and a speaker per node as processes; the pods are namespaces running an echo server (make lab LAB=cluster: the same on kubelets)."
}
