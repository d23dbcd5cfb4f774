package main

// --write: every packet the BPF filter keeps also goes to rolling pcap
// files (package pcapstore), for live capture and file imports alike.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/espcap/espcap-fast/pcapstore"
)

// writeFlags are the pcap store's flags.
type writeFlags struct {
	dir     string
	size    optSize
	every   time.Duration
	max     optSize
	minFree string
}

// optSize is a size flag that remembers whether it was given; "0" is
// allowed (no limit).
type optSize struct {
	n   int64
	set bool
}

func (o *optSize) String() string {
	if o == nil {
		return ""
	}
	return strconv.FormatInt(o.n, 10)
}

func (o *optSize) Set(s string) error {
	o.set = true
	if strings.TrimSpace(s) == "0" {
		o.n = 0
		return nil
	}
	n, err := parseSize(s, 1<<62)
	o.n = n
	return err
}

// registerWriteFlags defines --write (-w) and its rotation and retention
// flags on fs.
func registerWriteFlags(fs *flag.FlagSet) *writeFlags {
	w := &writeFlags{size: optSize{n: pcapstore.DefaultFileSize}, minFree: strconv.Itoa(pcapstore.DefaultMinFreePercent) + "%"}
	usage := "also write every packet the filter keeps to rolling pcap files in this directory (espcap-<host>-<iface|file>-w<worker>-<start>.pcap); a path ending in .pcap or .pcapng that is not a directory is one file, tcpdump -w style (rotating only with --write-size/--write-every)"
	fs.StringVar(&w.dir, "write", "", usage)
	fs.StringVar(&w.dir, "w", "", "same as --write (tcpdump's flag)")
	fs.Var(&w.size, "write-size", "with --write: start a new file before one would pass this size (e.g. 512M, 2G; 0: never)")
	fs.DurationVar(&w.every, "write-every", 0, "with --write: start a new file when one is this old (e.g. 1h; 0: never)")
	fs.Var(&w.max, "write-max", "with --write: most bytes the store's files may hold in total, across workers and runs; the oldest files are deleted first (e.g. 500G; default 0: no limit but --write-min-free)")
	fs.StringVar(&w.minFree, "write-min-free", w.minFree, "with --write: delete the oldest files while the file system has less free space than this (a size, e.g. 10G, or a percentage; 0: no floor)")
	return w
}

// storeConfig turns the flags into a pcapstore.Config; ok is false when
// --write was not given.
func (w *writeFlags) storeConfig() (cfg pcapstore.Config, ok bool, err error) {
	if w == nil || w.dir == "" {
		if w != nil && (w.size.set || w.every != 0 || w.max.set) {
			return cfg, false, errors.New("--write-size, --write-every and --write-max need --write DIR")
		}
		return cfg, false, nil
	}
	if w.every < 0 {
		return cfg, false, errors.New("--write-every must not be negative")
	}
	cfg.Every, cfg.MaxBytes = w.every, w.max.n
	if p, ok := strings.CutSuffix(strings.TrimSpace(w.minFree), "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f < 0 || f >= 100 {
			return cfg, false, fmt.Errorf("--write-min-free %q: a percentage from 0 to 99", w.minFree)
		}
		cfg.MinFreePercent = f
	} else if strings.TrimSpace(w.minFree) != "0" {
		n, err := parseSize(w.minFree, 1<<62)
		if err != nil {
			return cfg, false, fmt.Errorf("--write-min-free: %w", err)
		}
		cfg.MinFree = n
	}
	ext := strings.ToLower(filepath.Ext(w.dir))
	fi, statErr := os.Stat(w.dir)
	single := (ext == ".pcap" || ext == ".pcapng") && (statErr != nil || !fi.IsDir())
	switch {
	case !single:
		cfg.Dir, cfg.FileSize = w.dir, w.size.n
	case w.size.set || w.every != 0:
		// -w FILE.pcap with rotation: the files go beside it, named after it
		cfg.Dir, cfg.FileSize = filepath.Dir(w.dir), 0
		cfg.Prefix = strings.TrimSuffix(filepath.Base(w.dir), filepath.Ext(w.dir))
		if w.size.set {
			cfg.FileSize = w.size.n
		}
	default:
		cfg.File = w.dir
	}
	return cfg, true, nil
}

// open opens the store (nil, nil without --write); deletions and write
// errors are reported through warn, always (also with -q). inputs are the
// capture files the run reads: the store may neither truncate one (-w
// FILE) nor hold one (its retention would delete it).
func (w *writeFlags) open(warn func(error), inputs []string) (*pcapstore.Store, error) {
	cfg, ok, err := w.storeConfig()
	if !ok || err != nil {
		return nil, err
	}
	if err := notInput(cfg, inputs); err != nil {
		return nil, err
	}
	cfg.Log = func(msg string) { warn(errors.New(msg)) }
	st, err := pcapstore.Open(cfg)
	if err != nil {
		return nil, fmt.Errorf("--write: %w", err)
	}
	return st, nil
}

// notInput checks that the store's file or directory is not an input's.
func notInput(cfg pcapstore.Config, inputs []string) error {
	target, what := cfg.Dir, "directory"
	if cfg.File != "" {
		target, what = cfg.File, "file"
	}
	tfi, err := os.Stat(target)
	if err != nil {
		return nil // not there yet: no input is it
	}
	for _, in := range inputs {
		p := in
		if cfg.File == "" {
			p = filepath.Dir(in)
		}
		if fi, err := os.Stat(p); err == nil && os.SameFile(fi, tfi) {
			return fmt.Errorf("--write %s: %s is also read (%s): use another %s", target, what, in, what)
		}
	}
	return nil
}

// finishStore closes the store and prints what it wrote (unless -q and all
// went well). It returns an error when packets could not be written.
func finishStore(st *pcapstore.Store, stderr io.Writer, quiet bool) error {
	if st == nil {
		return nil
	}
	err := st.Close()
	s := st.Stats()
	if !quiet || err != nil || s.Dropped > 0 {
		fmt.Fprintf(stderr, "espcap-fast: pcap store: %d packets written, %d bytes in %d new files, %d files deleted by retention, %d packets not written\n",
			s.Packets, s.Bytes, s.Files, s.Deleted, s.Dropped)
	}
	if err != nil {
		return fmt.Errorf("pcap store: %w", err)
	}
	return nil
}
