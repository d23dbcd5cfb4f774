package main

import (
	"flag"
)

// searchFlagNames are the Elasticsearch flags of the commands that search
// (query, export): where the cluster is, how to log in, which indices.
var searchFlagNames = []string{"node", "index-prefix", "data-stream", "user", "password-file", "api-key-file", "ca-cert", "insecure"}

// registerSearchFlags defines on fs only the Elasticsearch flags a
// searching command uses (searchFlagNames), with the usage and defaults of
// registerESFlags; the import flags (chunk, indexers, dead letter,
// template, ...) keep their defaults and are not accepted.
func registerSearchFlags(fs *flag.FlagSet) *esFlags {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	e := registerESFlags(all)
	for _, n := range searchFlagNames {
		f := all.Lookup(n)
		fs.Var(f.Value, f.Name, f.Usage)
		fs.Lookup(n).DefValue = f.DefValue
	}
	return e
}
