// Command wget is the one probe the NATS stand-in image needs: the
// healthcheck docker-compose.yml gives the nats service, written for the
// busybox wget of the real nats:*-alpine image. It supports exactly
//
//	wget -q --spider URL
//
// and exits 0 when URL answers 2xx within 5 seconds, 1 otherwise, like
// busybox. It is installed as /bin/wget in the stand-in only.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	quiet, spider, url := false, false, ""
	for _, a := range args {
		switch {
		case a == "-q":
			quiet = true
		case a == "--spider":
			spider = true
		case url == "" && len(a) > 0 && a[0] != '-':
			url = a
		default:
			fmt.Fprintf(stderr, "wget: unsupported argument %q (this stand-in supports only -q --spider URL)\n", a)
			return 2
		}
	}
	if !spider || url == "" {
		fmt.Fprintln(stderr, "usage: wget [-q] --spider URL")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "wget: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if !quiet {
			fmt.Fprintf(stderr, "wget: %v\n", err)
		}
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		if !quiet {
			fmt.Fprintf(stderr, "wget: server returned error: %s\n", resp.Status)
		}
		return 1
	}
	if !quiet {
		fmt.Fprintln(stderr, "remote file exists")
	}
	return 0
}
