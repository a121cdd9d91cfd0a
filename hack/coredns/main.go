// CoreDNS with only the plugins the local cluster uses: the cluster.local zone
// from the API server, on the node's bridge address, and a readiness endpoint.
// CoreDNS's own main imports every plugin (cloud DNS providers among them);
// this is its documented way to build a smaller one.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

// In plugin.cfg's order, which is the order a query passes them in.
var directives = []string{"bind", "ready", "errors", "kubernetes"}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
