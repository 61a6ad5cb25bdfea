package kcluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/ironlb/ironlb/e2e/vlan"
)

// egressProxy is the API server's way into the lab: an HTTP CONNECT proxy
// on a unix socket (the API server's egress selector, "cluster" traffic:
// webhooks, kubelets) whose connections are dialled from inside the
// router's namespace, which routes to every node and pod. The host needs no
// route into the lab.
type egressProxy struct {
	ln     net.Listener
	from   *vlan.Host
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startEgressProxy(sock string, from *vlan.Host) (*egressProxy, error) {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &egressProxy{ln: ln, from: from, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by stop
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(ctx, c)
			}()
		}
	}()
	return p, nil
}

// egressConfig is the API server's --egress-selector-config-file.
func egressConfig(sock string) string {
	return `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: ` + sock + "\n"
}

// serve answers one CONNECT and then copies both ways until either side
// ends or the proxy stops.
func (p *egressProxy) serve(ctx context.Context, in net.Conn) {
	defer in.Close()
	stop := context.AfterFunc(ctx, func() { in.Close() })
	defer stop()
	br := bufio.NewReader(in)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		fmt.Fprintf(in, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	out, err := p.from.DialContext(dctx, "tcp", req.Host)
	cancel()
	if err != nil {
		fmt.Fprintf(in, "HTTP/1.1 502 Bad Gateway\r\n\r\n%v", err)
		return
	}
	defer out.Close()
	stopOut := context.AfterFunc(ctx, func() { out.Close() })
	defer stopOut()
	if _, err := fmt.Fprintf(in, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(out, br); out.Close(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(in, out); in.Close(); done <- struct{}{} }()
	<-done
	<-done
}

func (p *egressProxy) stop() {
	p.cancel()
	p.ln.Close()
	p.wg.Wait()
	os.Remove(p.ln.Addr().String())
}
