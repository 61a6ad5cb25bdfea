// Command pause is the sandbox ("pause") image of e2e/kcluster's nodes:
// it holds a pod's namespaces and does nothing else until it is told to
// stop. There is no registry here, so the image is built from this binary
// by hack/image instead of pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
