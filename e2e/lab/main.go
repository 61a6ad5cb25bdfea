// Command lab runs IronLB end to end on one machine, in the background:
// a real etcd and kube-apiserver, a virtual LAN of network namespaces
// (three nodes, a client, a router running FRR), the controller, a speaker
// per node with its datapath, pods running a small echo server, and a demo
// configuration: per mode (layer 2, BGP) a pool, its advertisement, and a
// Cluster and a Local Service, dual-stack. With -kind=cluster the same
// demo runs on a cluster of kubelets (e2e/kcluster) with IronLB installed
// from its Helm chart and the test server as real Deployments.
//
//	lab up   -state=DIR -bin=DIR [-kind=cluster]   start a lab (or show the running one) and print its table
//	lab show -state=DIR            print the table of the running lab
//	lab down -state=DIR            stop the lab and remove everything it made
//	lab serve ...                  the daemon itself (started by up)
//
// `make lab` and `make lab-down` run it through hack/lab.sh; its state
// (pid, log, kubeconfig) lives in .cache/lab/ or $IRONLB_LAB_DIR.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: lab up|show|down|serve -state=DIR [-bin=DIR] [-ttl=D] [-timeout=D]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet("lab "+cmd, flag.ContinueOnError)
	state := fs.String("state", "", "state directory (pid, log, kubeconfig)")
	bin := fs.String("bin", "bin", "directory holding controller and speaker (make build)")
	ttl := fs.Duration("ttl", 0, "stop the lab by itself after this long; 0: run until lab down")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long startup may take")
	kind := fs.String("kind", kindProcess, "up: the lab to start, process or cluster (make lab LAB=cluster)")
	repo := fs.String("repo", "", "the repository (images, Helm chart); default: the parent of -bin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("-state is required")
	}
	dir, err := filepath.Abs(*state)
	if err != nil {
		return err
	}
	binDir, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	if *repo == "" {
		*repo = filepath.Dir(binDir)
	}
	repoDir, err := filepath.Abs(*repo)
	if err != nil {
		return err
	}
	if err := checkKind(*kind); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("the lab needs root (network namespaces, nftables)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	st := stateDir(dir)

	switch cmd {
	case "serve":
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
		return serve(context.Background(), serveConfig{state: st, kind: *kind, binDir: binDir, repo: repoDir, ttl: *ttl})
	case "up":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return up(ctx, upConfig{state: st, kind: *kind, binDir: binDir, repo: repoDir, ttl: *ttl, timeout: *timeout}, os.Stdout)
	case "show":
		pid := st.daemon()
		in, err := st.readInfo()
		if pid == 0 || err != nil || in.PID != pid {
			return fmt.Errorf("no ready lab in %s (make lab starts one)", dir)
		}
		return show(context.Background(), os.Stdout, st, in)
	case "down":
		unlock, err := st.lock()
		if err != nil {
			return err
		}
		defer unlock()
		if err := down(st, os.Stdout); err != nil {
			return err
		}
		fmt.Println("lab: down; nothing of it is left")
		return nil
	default:
		return fmt.Errorf("unknown command %q: want up, show, down or serve", cmd)
	}
}
