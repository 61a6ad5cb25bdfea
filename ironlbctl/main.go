// Command ironlbctl is IronLB's operator CLI: where every Service IP is
// and who announces it (status), why a Service has no address or is not
// announced (why), what a configuration change would do (validate), and
// moving layer 2 IPs off a node before maintenance (drain, undrain), and
// converting a MetalLB configuration (migrate).
// Installed as kubectl-ironlb it is also the kubectl plugin `kubectl
// ironlb`, with the same behaviour.
//
// The decisions live in pure sub-packages (status, why, preview, drain,
// announce, migrate); this package parses flags, reads the cluster and prints.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `ironlbctl: operate IronLB (also usable as the kubectl plugin "kubectl ironlb")

Usage:
  ironlbctl status                  pools with their address counts, then every LoadBalancer
                                    Service IP: pool, mode, announcing node(s), datapath, endpoints
  ironlbctl why NAMESPACE/NAME      why a Service has no IP or is not announced (exit 1 when
                                    a problem is found, 0 when it is assigned and announced);
                                    with --client IP, also whether its source ranges drop that client;
                                    endpoints set aside on nodes the speakers hold dead
  ironlbctl validate -f FILE|DIR... check ironlb.io objects offline with the controller's compiler
                                    (exit 1 on errors) and, when a cluster is reachable, preview
                                    which Services would get, lose or move their IP
  ironlbctl migrate -f FILE|-       convert MetalLB objects (metallb.io v1beta1, v1beta2) into IronLB's and
                                    print them as YAML, with a comment on every field that has no
                                    equivalent (exit 1 when an input or the result is invalid);
                                    with --apply, also apply them to the cluster (server-side apply)
  ironlbctl drain NODE              label NODE ironlb.io/drain=true so speakers stop using it for
                                    layer 2 and BGP, and wait until its layer 2 IPs have moved
  ironlbctl undrain NODE            remove the label (same as drain --undo NODE)

Flags (any command, before or after its arguments):
  --kubeconfig FILE     kubeconfig; default $KUBECONFIG, else ~/.kube/config
  --context NAME        kubeconfig context; default the current one
  -o, --output FORMAT   text (default) or json (status, why, validate)
  --lb-class CLASS      loadBalancerClass the controller handles (its -lb-class; default ironlb.io/ironlb)
  --ignore-classless    the controller runs with -ignore-classless
  --namespace NS        IronLB's namespace, where the speakers' Lease is (default ironlb-system)
validate:
  -f FILE|DIR           file, or directory of *.yaml/*.yml/*.json files (repeatable)
  --offline             do not contact the cluster (no preview)
  --preview             require the preview: fail (exit 2) when the cluster is unreachable
migrate:
  -f FILE|-             MetalLB objects: multi-document YAML or JSON, Lists included; - reads stdin
  --apply               apply the converted objects (field manager ironlbctl-migrate)
why:
  --client IP           a client address: says when the Service's loadBalancerSourceRanges
                        (or annotation) make the datapath drop its connections
drain:
  --timeout DURATION    how long to wait for the IPs to move (default 30s; 0: do not wait)
  --undo                remove the drain label instead

Exit status: 0 success, 1 problem found (invalid configuration, why found a cause,
drain timed out), 2 usage or access errors.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var f *flags
	var err error
	if cmd != "help" && cmd != "-h" && cmd != "--help" {
		f, err = parseFlags(cmd, rest, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return 2
		}
	}
	e := env{flags: f, stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "status":
		return e.status(ctx)
	case "why":
		return e.why(ctx)
	case "validate":
		return e.validate(ctx)
	case "migrate":
		return e.migrate(ctx)
	case "drain":
		return e.drain(ctx, !f.undo)
	case "undrain":
		return e.drain(ctx, false)
	}
	fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
	return 2
}

// env is what every command uses.
type env struct {
	*flags
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (e env) fail(code int, format string, args ...any) int {
	fmt.Fprintf(e.stderr, format+"\n", args...)
	return code
}
