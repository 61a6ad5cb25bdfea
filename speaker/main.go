// Command speaker runs on every node (DaemonSet, host network) and makes the
// Services' external IPs reachable from the node's network: in layer 2 mode
// it answers ARP and NDP for the IPs this node is elected to announce.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "speaker:", err)
		os.Exit(2)
	}
	// The signal context starts the graceful hand-off; run decides when
	// the rest stops.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "speaker:", err)
		os.Exit(1)
	}
}
