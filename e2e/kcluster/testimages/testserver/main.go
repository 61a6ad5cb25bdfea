// Command testserver is the test-server image of e2e/kcluster: it answers
// every HTTP request on :8080 with "<pod name> <client address>\n", so a
// client can tell which pod answered and which source address the pod saw
// (with externalTrafficPolicy Local, the client's own).
//
// `testserver get URL` is a client instead: it prints the body of URL's
// answer, so a test can ask a Service from inside a pod (kubectl exec); the
// image holds nothing else to run.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		if err := get(os.Args[2]); err != nil {
			log.Fatal(err)
		}
		return
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s\n", name, r.RemoteAddr)
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}

func get(url string) error {
	resp, err := (&http.Client{Timeout: 3 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}
