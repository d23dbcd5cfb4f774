package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/bulk"
)

// Retention: espcap-fast deletes the time-named indices of its prefix whose
// period ended longer ago than the retention, as Arkime does with its daily
// indices. It works on every flavor (the integration-test servers have
// neither ILM nor ISM); see docs/ELASTICSEARCH.md, "Retention".

// retention is a --retention or --older-than value: "7d", "36h", "2w".
type retention time.Duration

func (r *retention) String() string {
	if *r == 0 {
		return ""
	}
	return time.Duration(*r).String()
}

func (r *retention) Set(s string) error {
	d, err := parseRetention(s)
	if err != nil {
		return err
	}
	*r = retention(d)
	return nil
}

// parseRetention reads a duration in days ("7d"), weeks ("2w") or Go's
// units ("36h"). It must be at least one hour.
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	switch {
	case strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w"):
		n, err := strconv.ParseUint(s[:len(s)-1], 10, 31)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of days (7d), weeks (2w) or hours (36h)", s)
		}
		d = time.Duration(n) * 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			d *= 7
		}
	default:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want a number of days (7d), weeks (2w) or hours (36h)", s)
		}
	}
	if d < time.Hour {
		return 0, fmt.Errorf("%q: a retention is at least one hour", s)
	}
	return d, nil
}

// indexPeriodEnd returns when the capture time an index holds ends, from
// its name: prefix + "2015-07-30" (day), "2015-w31" (ISO week) or "2015-07"
// (month). ok is false for any other name (prefix + "all", or indices of
// another prefix that happens to start the same way), which are never
// pruned.
func indexPeriodEnd(prefix, name string) (end time.Time, ok bool) {
	s, found := strings.CutPrefix(name, prefix)
	if !found {
		return time.Time{}, false
	}
	if t, err := time.Parse("2006-01-02", s); err == nil && len(s) == 10 {
		return t.AddDate(0, 0, 1), true
	}
	if t, err := time.Parse("2006-01", s); err == nil && len(s) == 7 {
		return t.AddDate(0, 1, 0), true
	}
	if len(s) == 8 && s[4] == '-' && s[5] == 'w' {
		y, err1 := strconv.Atoi(s[:4])
		w, err2 := strconv.Atoi(s[6:])
		if err1 == nil && err2 == nil && w >= 1 && w <= 53 {
			// ISO week 1 holds January 4th; weeks start on Monday
			jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
			monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
			start := monday.AddDate(0, 0, 7*(w-1))
			if yy, ww := start.ISOWeek(); yy == y && ww == w {
				return start.AddDate(0, 0, 7), true
			}
		}
	}
	return time.Time{}, false
}

// prunePrivileges says what prune needs, for a 403.
func prunePrivileges(prefix string) string {
	return fmt.Sprintf("espcap-fast prune needs the cluster privilege monitor and the index privileges view_index_metadata and delete_index on %s*", prefix)
}

// prune deletes (or with dryRun only lists) the indices of prefix whose
// period ended before now - keep, and returns their names.
func prune(ctx context.Context, ix *bulk.Indexer, prefix string, keep time.Duration, now time.Time, dryRun bool) ([]string, error) {
	status, body, err := ix.Request(ctx, http.MethodGet, "/_cat/indices/"+url.PathEscape(prefix+"*")+"?h=index&format=json&expand_wildcards=open,closed", nil)
	if err != nil {
		return nil, fmt.Errorf("prune: listing indices: %w", err)
	}
	if status == http.StatusForbidden {
		return nil, fmt.Errorf("prune: listing indices %s*: the user may not see them (HTTP 403); %s", prefix, prunePrivileges(prefix))
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("prune: listing indices %s*: HTTP %d: %.200s", prefix, status, body)
	}
	v, err := fastjson.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("prune: listing indices: %w", err)
	}
	cutoff := now.Add(-keep)
	var old []string
	for _, e := range v.GetArray() {
		name := string(e.GetStringBytes("index"))
		if end, ok := indexPeriodEnd(prefix, name); ok && !end.After(cutoff) {
			old = append(old, name)
		}
	}
	sort.Strings(old)
	if dryRun {
		return old, nil
	}
	for i, name := range old {
		status, body, err := ix.Request(ctx, http.MethodDelete, "/"+url.PathEscape(name), nil)
		switch {
		case err != nil:
			return old[:i], fmt.Errorf("prune: deleting %s: %w", name, err)
		case status == http.StatusForbidden:
			return old[:i], fmt.Errorf("prune: deleting %s: the user may not delete indices (HTTP 403); %s", name, prunePrivileges(prefix))
		case status != http.StatusOK && status != http.StatusNotFound:
			return old[:i], fmt.Errorf("prune: deleting %s: HTTP %d: %.200s", name, status, body)
		}
	}
	return old, nil
}

// startRetention prunes the indices of the run's prefix now and then once a
// day until ctx ends, logging how (lifecycleProbe), what it deleted and any
// error.
func startRetention(ctx context.Context, ix *bulk.Indexer, prefix string, keep time.Duration, logf func(string, ...any)) {
	logf("retention %s: espcap-fast deletes the indices %s* older than that, at start and daily (%s)", time.Duration(keep), prefix, lifecycleProbe(ctx, ix))
	run := func() {
		deleted, err := prune(ctx, ix, prefix, keep, time.Now(), false)
		if len(deleted) > 0 {
			logf("retention %s: deleted %d indices older than that: %s", time.Duration(keep), len(deleted), strings.Join(deleted, ", "))
		}
		if err != nil && ctx.Err() == nil {
			logf("retention: %v", err)
		}
	}
	run()
	go func() {
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				run()
			}
		}
	}()
}

// runPrune is `espcap-fast prune --node N --older-than D [--dry-run]`.
func runPrune(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("espcap-fast prune", flag.ContinueOnError)
	var older retention
	fs.Var(&older, "older-than", "delete the indices whose capture period ended longer ago than this: 7d, 2w, 36h")
	dryRun := fs.Bool("dry-run", false, "only list the indices that would be deleted")
	es := registerESFlags(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: espcap-fast prune [--node URL] --older-than D [--index-prefix P] [--dry-run]\n")
		fmt.Fprintf(w, "Deletes the indices <prefix>YYYY-MM-DD, <prefix>YYYY-wWW and <prefix>YYYY-MM whose period ended\nlonger ago than D (never <prefix>all nor a data stream).\n\n")
		printFlags(w, fs, "node", "older-than", "index-prefix", "dry-run", "user", "password-file", "api-key-file", "ca-cert", "insecure")
	}
	if done, code := parseArgs(fs, args, stdout, stderr, usage); done {
		return code
	}
	es.nodeFromEnv()
	switch {
	case len(es.nodes) == 0:
		fmt.Fprintln(stderr, "espcap-fast: prune needs --node (or $ES_URL)")
		return 2
	case older == 0:
		fmt.Fprintln(stderr, "espcap-fast: prune needs --older-than (e.g. 7d)")
		return 2
	case fs.NArg() > 0:
		fmt.Fprintln(stderr, "espcap-fast: prune takes no arguments")
		return 2
	}
	es.privileges = prunePrivileges(es.prefix)
	ctx, cancel, ix, code := connectCommand(es, stderr, warningsOnly(stderr), 10*time.Minute)
	if ix == nil {
		return code
	}
	defer cancel()
	defer ix.Close(context.Background())
	names, err := prune(ctx, ix, es.prefix, time.Duration(older), time.Now(), *dryRun)
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	verb := "deleted"
	if *dryRun {
		verb = "would delete"
	}
	if err == nil || len(names) > 0 {
		fmt.Fprintf(stderr, "espcap-fast: prune: %s %d indices of %s* older than %s\n", verb, len(names), es.prefix, older.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "espcap-fast: %v\n", err)
		return 1
	}
	return 0
}
