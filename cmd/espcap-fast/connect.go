package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/espcap/espcap-fast/bulk"
)

// connectCommand connects a subcommand (query, template, prune) to the
// cluster of es: the context bounds the whole command by timeout. code is
// the exit status to return when ix is nil (2: bad flags, 1: no cluster);
// the caller closes ix and calls cancel.
func connectCommand(es *esFlags, stderr io.Writer, logf func(string, ...any), timeout time.Duration) (ctx context.Context, cancel context.CancelFunc, ix *bulk.Indexer, code int) {
	cfg, err := es.config(logf)
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return nil, nil, nil, 2
	}
	ctx, cancel = context.WithTimeout(context.Background(), timeout)
	if ix, err = bulk.New(ctx, cfg); err != nil {
		cancel()
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return nil, nil, nil, 1
	}
	return ctx, cancel, ix, 0
}
