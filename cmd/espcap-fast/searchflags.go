package main

import (
	"flag"
)

// searchFlagNames are the Elasticsearch flags of the commands that search
// (query, export): where the cluster is, how to log in, which indices.
var searchFlagNames = []string{"node", "index-prefix", "data-stream", "user", "password-file", "api-key-file", "ca-cert", "insecure"}

// searchUsage is the usage of the search flags whose import usage would
// mislead.
var searchUsage = map[string]string{
	"node":         "Elasticsearch/OpenSearch node, host:port (http) or URL; repeatable or comma-separated (default $ES_URL)",
	"index-prefix": "prefix of the packet indices: --index defaults to <prefix>*",
	"data-stream":  "search this data stream (the default of --index)",
}

// registerSearchFlags defines on fs only the Elasticsearch flags a
// searching command uses (searchFlagNames), with the defaults (and, but for
// searchUsage, the usage) of registerESFlags; the import flags (chunk,
// indexers, dead letter, template, ...) keep their defaults and are not
// accepted.
func registerSearchFlags(fs *flag.FlagSet) *esFlags {
	all := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	e := registerESFlags(all)
	for _, n := range searchFlagNames {
		f := all.Lookup(n)
		usage := f.Usage
		if u, ok := searchUsage[n]; ok {
			usage = u
		}
		fs.Var(f.Value, f.Name, usage)
		fs.Lookup(n).DefValue = f.DefValue
	}
	return e
}
