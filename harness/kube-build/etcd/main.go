// Command etcd is upstream etcd's main (the same two lines as the etcd
// repository's own main.go, whose module cannot be required directly because
// its go.mod uses replace directives).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
