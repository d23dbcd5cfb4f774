package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// permuteArgs rewrites a command line the way GNU getopt and tcpdump read
// it, into one that the standard flag package parses: flags may come
// before, between or after the positional arguments (the BPF expression of
// an import, the Lucene query of `query`), single-letter flags may be
// combined (`-nnr f`, `-nr f`), and a single-letter flag's value may be
// glued to it (`-c5`, `-rcapture.pcap`). The result holds every flag first,
// then "--", then the positional arguments in their order. "--" ends the
// flags, as everywhere.
//
// A word that starts with "-" and is neither a defined flag nor a cluster
// of defined single-letter flags is left to the flag package, which reports
// it as undefined.
func permuteArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i+1:]...)
			i = len(args)
			continue
		case len(a) < 2 || a[0] != '-':
			rest = append(rest, a) // "-" alone is a value (stdin), never a flag
			continue
		}
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "---") || name == "" {
			flags = append(flags, a)
			continue
		}
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		if f := fs.Lookup(name); f != nil || name == "h" || name == "help" {
			flags = append(flags, a)
			if f != nil && !hasValue && !isBoolFlag(f) {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("flag needs an argument: %s", a)
				}
				i++
				flags = append(flags, args[i])
			}
			_ = value
			continue
		}
		if a[1] == '-' || hasValue {
			flags = append(flags, a) // an unknown long flag: the flag package says so
			continue
		}
		// a cluster of single-letter flags: -nnr FILE, -c5, -vvv
		expanded, consumed, ok := expandCluster(fs, name, args[i+1:])
		if !ok {
			flags = append(flags, a)
			continue
		}
		flags = append(flags, expanded...)
		i += consumed
	}
	out := make([]string, 0, len(flags)+1+len(rest))
	out = append(out, flags...)
	out = append(out, "--")
	return append(out, rest...), nil
}

// expandCluster splits "-abc" into "-a" "-b" "-c" when every letter is a
// defined single-letter flag. A letter that takes a value ends the cluster:
// the rest of the word is its value, or else the next argument (consumed
// reports how many of next were used).
func expandCluster(fs *flag.FlagSet, cluster string, next []string) (out []string, consumed int, ok bool) {
	for j := 0; j < len(cluster); j++ {
		f := fs.Lookup(cluster[j : j+1])
		if f == nil {
			return nil, 0, false
		}
		if isBoolFlag(f) {
			out = append(out, "-"+f.Name)
			continue
		}
		if j+1 < len(cluster) {
			return append(out, "-"+f.Name, cluster[j+1:]), 0, true
		}
		if len(next) == 0 {
			return nil, 0, false // the flag package reports the missing value
		}
		return append(out, "-"+f.Name, next[0]), 1, true
	}
	return out, 0, true
}

// isBoolFlag tells whether f takes no value (as the flag package decides).
func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// countFlag is a flag that may be repeated to count (-v, -vv, -n, -nn).
type countFlag int

func (c *countFlag) String() string   { return fmt.Sprint(int(*c)) }
func (c *countFlag) IsBoolFlag() bool { return true }
func (c *countFlag) Set(s string) error {
	switch s {
	case "true":
		*c++
	case "false":
		*c = 0
	default:
		return fmt.Errorf("takes no value")
	}
	return nil
}

// parseArgs parses args into fs after permuteArgs. Help (-h, --help) goes
// to stdout through usage and returns exit code 0; a mistake prints the
// error and a one-line hint on stderr (not the whole flag list) and
// returns 2. done is true when the caller should exit with code.
func parseArgs(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, usage func(io.Writer)) (done bool, code int) {
	fs.SetOutput(stderr)
	hint := func() { fmt.Fprintf(stderr, "run '%s -h' for help\n", fs.Name()) }
	fs.Usage = func() {} // the flag package calls it on -h and on errors; both handled below
	permuted, err := permuteArgs(fs, args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		hint()
		return true, 2
	}
	if err := fs.Parse(permuted); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return true, 0
		}
		hint()
		return true, 2
	}
	fs.Usage = hint
	return false, 0
}

// printFlags writes the flags of fs named in names (all of them when names
// is empty) the way flag.PrintDefaults does, to w.
func printFlags(w io.Writer, fs *flag.FlagSet, names ...string) {
	out := fs.Output()
	fs.SetOutput(w)
	defer fs.SetOutput(out)
	if len(names) == 0 {
		fs.PrintDefaults()
		return
	}
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	sub := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if keep[f.Name] {
			sub.Var(f.Value, f.Name, f.Usage)
			sub.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	sub.SetOutput(w)
	sub.PrintDefaults()
}

// flagGroup is a titled group of flags in a help text.
type flagGroup struct {
	title string
	names []string
}

// printGroups writes the flags of fs by group; flags in no group come last
// under "Other flags", so that a flag is never missing from the help.
func printGroups(w io.Writer, fs *flag.FlagSet, groups []flagGroup) {
	seen := map[string]bool{}
	for _, g := range groups {
		var names []string
		for _, n := range g.names {
			if fs.Lookup(n) != nil {
				names = append(names, n)
				seen[n] = true
			}
		}
		if len(names) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", g.title)
		printFlags(w, fs, names...)
	}
	var other []string
	fs.VisitAll(func(f *flag.Flag) {
		if !seen[f.Name] {
			other = append(other, f.Name)
		}
	})
	if len(other) > 0 {
		fmt.Fprintf(w, "\nOther flags:\n")
		printFlags(w, fs, other...)
	}
}
