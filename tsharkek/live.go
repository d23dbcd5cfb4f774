package tsharkek

// Live capture with the tshark engine.
//
// `tshark -i IF` would have its dumpcap write every packet to a temporary
// file (/tmp/wireshark_IF*.pcapng) that it then reads and deletes only at
// exit: a capture that runs for days fills the disk. So the engine runs
// the two halves itself, joined by a pipe:
//
//	dumpcap -q -f EXPR [-s N] [-p] [-B MiB] [-c N] -i IF ... -w -  |  tshark -l -T ek -r -
//
// dumpcap is Wireshark's capture program (the one tshark -i runs, from the
// same package); -f is the BPF capture filter, compiled by libpcap and run
// in the kernel. Stopping (a signal, --duration) sends SIGINT to dumpcap
// only: it stops capturing, writes what it holds and its counts, and
// exits; tshark reads to the end of the pipe, prints every packet and
// exits; every document is written. Frame numbers count the session's
// packets from 1, across interfaces, and documents carry
// interface.name (tshark's frame.interface_name) and no file_name.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/espcap/espcap-fast/pipeline"
)

// LiveConfig configures a live capture with the tshark engine.
type LiveConfig struct {
	// Config gives tshark, its options, Count, Protocols, the field table
	// and Warn (Workers and FromDir are not used; BPF is the capture
	// filter).
	Config
	// Dumpcap is the capture program ("": the dumpcap beside Tshark, else
	// dumpcap from PATH; see FindDumpcap).
	Dumpcap string
	// Interfaces to capture on (at least one).
	Interfaces []string
	// Snaplen is dumpcap's -s (0: dumpcap's default, 262144).
	Snaplen int
	// NoPromisc is dumpcap's -p.
	NoPromisc bool
	// BufferMiB is dumpcap's -B, the kernel capture buffer per interface
	// (0: dumpcap's default, 2 MiB).
	BufferMiB int
	// Ready is called once, when dumpcap captures (it has opened the
	// interfaces and set the filter), with its "Capturing on 'eth0'" line.
	Ready func(msg string)
	// TsharkCredential, when set, is the user tshark runs as (its uid,
	// gid and groups; exec'd by a non-root uid, it has no capability),
	// while dumpcap keeps our privileges to capture (--run-as).
	TsharkCredential *syscall.Credential
	// TsharkHome is tshark's HOME with TsharkCredential (its personal
	// settings are read from there, not from ours); XDG_CONFIG_HOME is
	// then not passed on.
	TsharkHome string
}

// InterfaceCounts are dumpcap's counts for one interface at the end of a
// capture.
type InterfaceCounts struct {
	Name     string
	Received uint64
	Dropped  uint64
	Line     string // dumpcap's own line
}

// LiveResult is what dumpcap reported at the end of a capture.
type LiveResult struct {
	// Captured is the number of packets dumpcap wrote to tshark (-1: dumpcap
	// did not say).
	Captured int64
	// Interfaces are dumpcap's received/dropped counts, in its order.
	Interfaces []InterfaceCounts
}

// Drops returns the packets dropped on all interfaces.
func (r *LiveResult) Drops() uint64 {
	var n uint64
	for _, c := range r.Interfaces {
		n += c.Dropped
	}
	return n
}

// FindDumpcap returns the dumpcap to run with the given tshark: the one in
// the same directory, else dumpcap from PATH.
func FindDumpcap(tshark string) (string, error) {
	if tshark == "" {
		tshark = "tshark"
	}
	if bin, err := exec.LookPath(tshark); err == nil {
		p := filepath.Join(filepath.Dir(bin), "dumpcap")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("dumpcap")
	if err != nil {
		return "", fmt.Errorf("%w: dumpcap, Wireshark's capture program, is needed for live capture with the tshark engine (apt-get install tshark installs it): %v", ErrNotFound, err)
	}
	return p, nil
}

var (
	capturedRE = regexp.MustCompile(`^Packets captured: (\d+)$`)
	ifCountsRE = regexp.MustCompile(`^Packets received/dropped on interface '(.*)': (\d+)/(\d+)`)
)

// Live captures on cfg.Interfaces with dumpcap and dissects with tshark
// until ctx is cancelled (then it stops dumpcap cleanly: every packet
// dumpcap captured is written), cfg.Count documents are written, the sink
// fails, or dumpcap or tshark stops by itself. Documents go to sink,
// counted in st. dumpcap's and tshark's messages go to cfg.Warn, except
// the "Capturing on" line (cfg.Ready) and dumpcap's final counts (the
// result). An error says why the capture failed: dumpcap's or tshark's
// exit status and message, a broken output, the sink's error.
func Live(ctx context.Context, cfg LiveConfig, sink pipeline.Sink, st *pipeline.Stats) (*LiveResult, error) {
	res := &LiveResult{Captured: -1}
	if err := cfg.setDefaults(); err != nil {
		return res, err
	}
	if len(cfg.Interfaces) == 0 {
		return res, errors.New("tshark engine: live capture without interfaces")
	}
	cfg.flushIdle = true
	if cfg.Ready == nil {
		cfg.Ready = func(string) {}
	}
	if cfg.Dumpcap == "" {
		p, err := FindDumpcap(cfg.Tshark)
		if err != nil {
			return res, err
		}
		cfg.Dumpcap = p
	}

	// dumpcap's options before the first -i apply to every interface
	dargs := []string{"-q"}
	if cfg.BPF != "" {
		dargs = append(dargs, "-f", cfg.BPF)
	}
	if cfg.Snaplen > 0 {
		dargs = append(dargs, "-s", strconv.Itoa(cfg.Snaplen))
	}
	if cfg.NoPromisc {
		dargs = append(dargs, "-p")
	}
	if cfg.BufferMiB > 0 {
		dargs = append(dargs, "-B", strconv.Itoa(cfg.BufferMiB))
	}
	if cfg.Count > 0 {
		dargs = append(dargs, "-c", strconv.FormatUint(cfg.Count, 10))
	}
	for _, in := range cfg.Interfaces {
		dargs = append(dargs, "-i", in)
	}
	dargs = append(dargs, "-w", "-")
	targs := append(append([]string(nil), cfg.Args...), "-l", "-T", "ek", "-r", "-")

	pr, pw, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("tshark engine: pipe: %w", err)
	}
	// own process groups: a Ctrl-C on the terminal reaches espcap-fast
	// only, which then stops dumpcap; both die with espcap-fast
	attr := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	ts := exec.Command(cfg.Tshark, targs...)
	ts.Env = childEnv()
	ts.SysProcAttr = attr()
	if ts.SysProcAttr.Credential = cfg.TsharkCredential; ts.SysProcAttr.Credential != nil {
		ts.Env = withHome(ts.Env, cfg.TsharkHome)
	}
	ts.Stdin = pr
	// until both processes have started, the pipe is ours to close
	fail := func(err error) (*LiveResult, error) {
		pr.Close()
		pw.Close()
		return res, err
	}
	tout, err := ts.StdoutPipe()
	if err != nil {
		return fail(fmt.Errorf("tshark: %w", err))
	}
	terr, err := ts.StderrPipe()
	if err != nil {
		return fail(fmt.Errorf("tshark: %w", err))
	}
	dc := exec.Command(cfg.Dumpcap, dargs...)
	dc.Env = childEnv()
	dc.SysProcAttr = attr()
	dc.Stdout = pw
	derr, err := dc.StderrPipe()
	if err != nil {
		return fail(fmt.Errorf("dumpcap: %w", err))
	}
	if err := ts.Start(); err != nil {
		return fail(fmt.Errorf("starting %s: %w", cfg.Tshark, err))
	}
	if err := dc.Start(); err != nil {
		ts.Process.Kill()
		ts.Wait()
		return fail(fmt.Errorf("starting %s: %w", cfg.Dumpcap, err))
	}
	// the pipe now belongs to the two processes
	pr.Close()
	pw.Close()

	// dumpcap's standard error: the start line, its counts at the end, and
	// any message (before the capture starts, kept for the error)
	var (
		dmu     sync.Mutex
		early   []string // dumpcap's messages before it captured
		started bool
	)
	derrDone := make(chan struct{})
	go func() {
		defer close(derrDone)
		sc := bufio.NewScanner(derr)
		capturing := ""
		for sc.Scan() {
			line := strings.TrimSpace(strings.Trim(sc.Text(), "\r"))
			line = strings.TrimPrefix(line, "dumpcap: ")
			switch {
			case line == "" || line == rootWarning:
			case strings.HasPrefix(line, "Capturing on "):
				// printed before the interfaces are opened
				capturing = line
			case strings.HasPrefix(line, "File: "):
				// printed once the interfaces are open, filters set,
				// and the output started: capturing now
				dmu.Lock()
				started = true
				dmu.Unlock()
				cfg.Ready(capturing)
			case capturedRE.MatchString(line):
				n, _ := strconv.ParseInt(capturedRE.FindStringSubmatch(line)[1], 10, 64)
				dmu.Lock()
				res.Captured = n
				dmu.Unlock()
			case ifCountsRE.MatchString(line):
				m := ifCountsRE.FindStringSubmatch(line)
				c := InterfaceCounts{Name: m[1], Line: line}
				c.Received, _ = strconv.ParseUint(m[2], 10, 64)
				c.Dropped, _ = strconv.ParseUint(m[3], 10, 64)
				dmu.Lock()
				res.Interfaces = append(res.Interfaces, c)
				dmu.Unlock()
			default:
				dmu.Lock()
				if !started {
					early = append(early, line)
				}
				s := started
				dmu.Unlock()
				if s {
					cfg.Warn(fmt.Errorf("dumpcap: %s", line))
				}
			}
		}
		io.Copy(io.Discard, derr)
	}()
	// tshark's standard error: passed on as it comes, and kept (the end
	// of it) for the error if tshark fails
	tmsgs := &limitedBuffer{max: 16 << 10}
	terrDone := make(chan struct{})
	go func() {
		defer close(terrDone)
		sc := bufio.NewScanner(terr)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || line == rootWarning {
				continue
			}
			tmsgs.Write([]byte(line + "\n"))
			cfg.Warn(fmt.Errorf("tshark: %s", line))
		}
		io.Copy(io.Discard, terr)
	}()

	// abort: no more documents needed (Count, sink failure, a broken
	// output); stop: ctx, dumpcap is asked to finish
	abortCtx, abort := context.WithCancel(context.Background())
	defer abort()
	dcDone := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-abortCtx.Done():
		case <-dcDone:
			return
		}
		dc.Process.Signal(os.Interrupt)
		select {
		case <-dcDone:
		case <-time.After(10 * time.Second):
			cfg.Warn(errors.New("dumpcap did not stop within 10 s of SIGINT: killed"))
			dc.Process.Kill()
		}
	}()

	src := &pipeline.Source{ID: "live-" + strings.Join(cfg.Interfaces, "+") + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)}
	pool := sync.Pool{New: func() any { return pipeline.NewDocBatch(nil) }}
	j := &job{out: make(chan *pipeline.Batch, 4), done: make(chan error, 1)}
	var stopped atomic.Bool // stopped on purpose: Count reached, sink failed
	go func() {
		err := decodeStream(abortCtx, &cfg.Config, src, "", tout, nil, j.out, &pool, st)
		if err != nil || abortCtx.Err() != nil {
			abort()
			ts.Process.Kill()
		}
		io.Copy(io.Discard, tout)
		close(j.out)
		j.done <- err
	}()
	var readErr error
	wcfg := cfg.Config
	wcfg.Warn = func(err error) { readErr = err } // the job's error is the run's
	one := make(chan *job, 1)
	one <- j
	close(one)
	sinkErr := writeJobs(&wcfg, one, sink, st, &pool, func() { stopped.Store(true); abort() })
	aborted := stopped.Load()

	<-derrDone
	dcErr := dc.Wait()
	close(dcDone)
	<-terrDone
	tsErr := ts.Wait()

	dmu.Lock()
	defer dmu.Unlock()
	switch {
	case sinkErr != nil:
		return res, sinkErr
	case readErr != nil && !aborted:
		return res, fmt.Errorf("tshark: %w", readErr)
	case dcErr != nil && !aborted && ctx.Err() == nil:
		return res, fmt.Errorf("dumpcap failed (%v): %s", dcErr, stderrText([]byte(strings.Join(early, "\n"))))
	case tsErr != nil && !aborted:
		return res, fmt.Errorf("tshark failed (%v): %s", tsErr, stderrText(tmsgs.Bytes()))
	}
	for _, l := range early {
		cfg.Warn(fmt.Errorf("dumpcap: %s", l))
	}
	return res, nil
}
