// Command testserver is the test-server image of e2e/kcluster: it answers
// every HTTP request on :8080 with "<pod name> <client address>\n", so a
// client can tell which pod answered and which source address the pod saw
// (with externalTrafficPolicy Local, the client's own).
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", name, r.RemoteAddr)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
