// Package kubeapi starts a real etcd and kube-apiserver for tests and for the
// lab, on free loopback ports, in a temporary directory.
//
// No controller-manager, scheduler or kubelet run: objects that only those
// create (ServiceAccounts in new namespaces, EndpointSlices from Pods, Node
// objects) must be written by the test. The ServiceAccount admission plugin is
// disabled so that Pods can be created without a "default" ServiceAccount.
//
// # Binaries
//
// kube-apiserver comes from $IRONLB_TOOLS_BIN, else <repo>/.tools/bin (built
// by `make tools`, i.e. hack/build-tools.sh); etcd comes from PATH (Debian's
// etcd-server, installed by hack/install-deps.sh). A missing binary fails the
// test with a message that says how to get it; it never skips.
//
// # Service addresses
//
// Tests may only use documentation address ranges, and the IPv4 one that is
// free for ClusterIPs, 192.0.2.128/25, holds only 126 addresses while tests
// create thousands of Services. So the default service range is IPv6-primary
// dual stack, "2001:db8:ffff::/108,192.0.2.128/25": a Service that sets no
// ipFamilies gets one IPv6 ClusterIP, and a Service that needs IPv4 must say so
// (ipFamilies [IPv4], or ipFamilyPolicy PreferDualStack/RequireDualStack).
// The first address of the IPv6 range belongs to the "kubernetes" Service.
// NodePorts come from 30000-39999 so that thousands of LoadBalancer Services
// fit.
//
// # CRDs
//
// The CRDs in Options.CRDDir (default <repo>/manifests/crds) are created
// after /readyz, and Start returns once each is Established and listed by
// discovery, and once 2 s have passed since the last became Established:
// apiextensions-apiserver sleeps 2 s in every create of a custom resource
// whose CRD is younger than that, which would otherwise land in the tests'
// first creates. So a server with CRDs takes about 2 s longer to start.
//
// # Facts about this API server that the controller relies on
//
// Recorded as assertions in kubeapi_test.go (TestServer), on v1.34.2:
//   - status.loadBalancer.ingress[].ipMode written empty reads back as VIP.
//   - An update (PUT) or merge patch of a Service's /status subresource
//     stores metadata changes (annotations) along with status; only spec
//     changes are dropped. An update of the main resource ignores status.
//
// # Identities
//
// Server.Config holds admin credentials (a client certificate in group
// system:masters). Authorization is RBAC, and the API server trusts client
// certificates signed by the harness's own CA, so any identity can be minted
// after start: KubeconfigFor and ConfigFor return credentials for a user name
// and groups. To run a controller as if it were a ServiceAccount, mint the
// identity that the ServiceAccount token authenticator would produce:
//
//	user, groups := kubeapi.ServiceAccountIdentity("ironlb-system", "ironlb-controller")
//	kubeconfig, err := srv.KubeconfigFor(user, groups...)
//
// RBAC bindings whose subject is that ServiceAccount then apply to it, exactly
// as in a cluster. The ServiceAccount object itself need not exist.
//
// # Lifetime
//
// Start ties the servers to a test (t.Cleanup stops them; on failure the last
// 50 lines of the API server log are printed; with IRONLB_KEEP=1 the directory
// of a failed test is kept). StartProcess is for long-running, non-test use and
// is ended with Server.Stop. The processes are started with Pdeathsig=SIGKILL
// so they never outlive the process that started them. Servers are
// independent: any number can run in parallel, each on its own ports.
//
// etcd keeps its data on tmpfs (/dev/shm/ironlb-etcd-*), because etcd 3.4 has
// no --unsafe-no-fsync; such directories left by a killed test process (or
// kept with IRONLB_KEEP=1) are removed by the next Start on the machine.
package kubeapi
