package tsharkek

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/espcap/espcap-fast/capfile"
	"github.com/espcap/espcap-fast/encode"
	"github.com/espcap/espcap-fast/pipeline"
)

// Config configures a run of the tshark engine.
type Config struct {
	// Tshark is the tshark to run ("": tshark from PATH).
	Tshark string
	// Args are tshark's dissection options (nil: DefaultArgs). -T ek and -r
	// are added.
	Args []string
	// Workers is the most tshark processes at a time, each reading one file
	// (default 1).
	Workers int
	// Count stops the run after exactly this many documents (0: all).
	Count uint64
	// BPF is a tcpdump filter expression ("": none). For files it is run
	// by the filter package on every packet, and tshark reads only the
	// packets kept (see bpf.go); documents keep the file's frame numbers.
	// Live, it is dumpcap's capture filter.
	BPF string
	// Protocols names a packet's highest protocol.
	Protocols *encode.Protocols
	// Fields types tshark's fields (LoadFields). When nil, FieldsFunc is
	// called (once per file, before its first packet), so that loading the
	// table can overlap tshark's start.
	Fields     *encode.EKFields
	FieldsFunc func() (*encode.EKFields, error)
	// FromDir marks files found by a directory scan: one that tshark does
	// not take for a capture is skipped with a note instead of failing.
	FromDir map[string]bool
	// Warn reports a problem that does not stop the run: a file that failed
	// (a *pipeline.FileError), tshark's messages on standard error.
	Warn func(err error)

	// Next, if set, gives the files to read instead of Run's paths, one
	// at a time, until it returns io.EOF (a watched folder; see
	// pipeline.FileInput.Next); another error ends the run with it.
	Next func(ctx context.Context) (path string, err error)
	// Resume, if set, is asked before a file is read: read false leaves it
	// out, skip > 0 leaves out its first skip records (an import resumed
	// after them; see pipeline.FileInput.Resume).
	Resume func(path string) (skip uint64, read bool)
	// OnDone, if set, is told, in file order, once a file's documents
	// were all handed to the sink: records is the frame number of its
	// last document (its records count when nothing was filtered out),
	// err the file's error (nil: read to its end).
	OnDone func(path string, records uint64, err error)

	// Flows, if set, makes flow records (--records flows|both): the
	// packets are tracked by it in file order, their documents carry
	// flow.id (kept only with FlowWriter.Packets), and the flow documents
	// go to the sink with them.
	Flows *pipeline.FlowWriter

	// flushIdle hands a batch on as soon as tshark has printed nothing
	// more (live capture: documents must not wait for a full batch).
	flushIdle bool
}

// job is one file being read.
type job struct {
	path string
	skip uint64 // records left out at the start (a resumed import)
	// fromDir: found by a directory scan or a watch (cfg.FromDir, read
	// where Next runs: Next may add to it)
	fromDir bool
	out     chan *pipeline.Batch
	done    chan error
}

// setDefaults fills in what the configuration leaves to defaults; a
// configuration without a protocols list is an error.
func (c *Config) setDefaults() error {
	if c.Protocols == nil {
		return errors.New("tshark engine: no protocols list")
	}
	if c.Args == nil {
		c.Args = DefaultArgs
	}
	if c.Tshark == "" {
		c.Tshark = "tshark"
	}
	if c.Warn == nil {
		c.Warn = func(error) {}
	}
	return nil
}

// Run reads the files with tshark, at most cfg.Workers at a time, and hands
// their documents to sink in file order, counting in st. A file that tshark
// cannot read, or not to its end, is reported through cfg.Warn (a
// *pipeline.FileError naming the file, tshark's exit status and its standard
// error) and counted in st.FilesFailed; its documents up to the failure are
// kept and the next file is read. Run returns the sink's error, if any;
// cancelling ctx stops the run (what was read is still written) and makes
// Run return ctx's error.
func Run(ctx context.Context, cfg Config, paths []string, sink pipeline.Sink, st *pipeline.Stats) error {
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	pool := sync.Pool{New: func() any { return pipeline.NewDocBatch(nil) }}
	if od := cfg.OnDone; od != nil {
		// an interrupted file is not done: it is resumed by the next run
		cfg.OnDone = func(path string, records uint64, err error) {
			if runCtx.Err() == nil {
				od(path, records, err)
			}
		}
	}
	next := cfg.Next
	if next == nil {
		i := 0
		next = func(context.Context) (string, error) {
			if i == len(paths) {
				return "", io.EOF
			}
			i++
			return paths[i-1], nil
		}
	}
	// start the files in order, cfg.Workers at a time: a job is handed to
	// the writer once its reader runs, so the file being written always
	// runs and the bounded channels cannot deadlock
	jobs := make(chan *job, cfg.Workers)
	sem := make(chan struct{}, cfg.Workers)
	var nextErr error
	go func() {
		defer close(jobs)
		for {
			path, err := next(runCtx)
			if err != nil {
				if !errors.Is(err, io.EOF) && runCtx.Err() == nil {
					nextErr = err
					stop()
				}
				return
			}
			j := &job{path: path, fromDir: cfg.FromDir[path], out: make(chan *pipeline.Batch, 4), done: make(chan error, 1)}
			if cfg.Resume != nil {
				skip, read := cfg.Resume(path)
				if !read {
					continue
				}
				j.skip = skip
			}
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
				return
			}
			go func() {
				defer func() { <-sem }()
				err := readFile(runCtx, &cfg, j, &pool, st)
				close(j.out)
				j.done <- err
			}()
			jobs <- j
		}
	}()

	sinkErr := writeJobs(&cfg, jobs, sink, st, &pool, stop)
	if sinkErr != nil {
		return sinkErr
	}
	if nextErr != nil {
		return nextErr
	}
	return ctx.Err()
}

// writeJobs hands the documents of the jobs, in job order, to sink, cuts
// them at cfg.Count, counts them in st and reports the jobs' errors through
// cfg.Warn. It calls stop when no more documents are needed (Count
// reached, sink failed) and returns the sink's error.
func writeJobs(cfg *Config, jobs <-chan *job, sink pipeline.Sink, st *pipeline.Stats, pool *sync.Pool, stop func()) error {
	var docs uint64
	var sinkErr error
	stopped := false
	var tick <-chan time.Time
	if cfg.Flows != nil && cfg.flushIdle {
		// live: flows end by their idle timeout while no packet comes
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	for j := range jobs {
		name := j.path
		st.Current.Store(&name)
		st.Size.Store(-1)
		last := j.skip // frame number of the file's last document
		for {
			b, ok := nextBatch(j.out, tick, pool)
			if !ok {
				break
			}
			if !stopped {
				if cfg.Flows != nil {
					cfg.Flows.Batch(b)
				}
				n := b.DocCount()
				if cfg.Count > 0 && docs+uint64(n) >= cfg.Count {
					n = int(cfg.Count - docs)
					b.CutDocs(n)
					stopped = true
					stop()
				}
				if n > 0 || b.Flows() > 0 {
					if err := sink.Write(b); err != nil {
						sinkErr = err
						stopped = true
						stop()
					}
				}
				if k := b.Len(); k > 0 {
					_, _, num := b.Doc(k - 1)
					last = max(last, num)
				}
				docs += uint64(n)
				st.Docs.Add(uint64(n))
				for i := range b.Len() {
					if d, _, _ := b.Doc(i); d != nil && b.Malformed(i) {
						st.Malformed.Add(1)
					}
				}
			}
			pool.Put(b)
		}
		err := <-j.done
		if err != nil {
			var fe *pipeline.FileError
			if !errors.As(err, &fe) || !fe.Skipped {
				st.FilesFailed.Add(1)
			}
			cfg.Warn(err)
		}
		if cfg.OnDone != nil && !stopped {
			cfg.OnDone(j.path, last, err)
		}
	}
	if cfg.Flows != nil && !stopped {
		// the flows still tracked at the end of the run
		b := pool.Get().(*pipeline.Batch)
		b.ResetDocs(nil)
		cfg.Flows.Flush(b)
		if len(b.Out()) > 0 {
			sinkErr = sink.Write(b)
		}
		pool.Put(b)
	}
	return sinkErr
}

// liveIdleMargin is how far behind the clock a live flow tick expires
// flows: packets reach the flow table through dumpcap's and tshark's
// buffers, and one still on its way must not find its flow ended.
const liveIdleMargin = 5 * time.Second

// nextBatch returns the next batch of out, or, when tick fires first, an
// empty batch that makes the flow writer expire the flows idle at the
// time (less liveIdleMargin); false when out is closed.
func nextBatch(out <-chan *pipeline.Batch, tick <-chan time.Time, pool *sync.Pool) (*pipeline.Batch, bool) {
	select {
	case b, ok := <-out:
		return b, ok
	case now := <-tick:
		b := pool.Get().(*pipeline.Batch)
		b.ResetDocs(nil)
		b.SetFlowTick(now.Add(-liveIdleMargin).UnixNano())
		return b, true
	}
}

// readFile runs tshark on one file and sends its documents, in batches, to
// out. It returns a *pipeline.FileError when tshark fails or its output
// cannot be read, nil when the file was read to its end or ctx was
// cancelled.
func readFile(ctx context.Context, cfg *Config, j *job, pool *sync.Pool, st *pipeline.Stats) error {
	path, skip, out := j.path, j.skip, j.out
	src := &pipeline.Source{Name: path, ID: pipeline.FileID(path)}
	pos := "" // pcap.file of the packets (none for a stream)
	if path != "-" {
		fi, err := os.Stat(path)
		if err != nil {
			return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: %w", path, err)}
		}
		src.Date = string(encode.AppendDateUTC(nil, fi.ModTime()))
		pos = pipeline.PositionFile(path, fi)
	}
	// with a filter, tshark reads the packets kept from its standard input
	var capture *capfile.Reader
	if cfg.BPF != "" {
		r, err := capfile.Open(path)
		if err != nil {
			fe := &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: %w", path, err)}
			fe.Skipped = j.fromDir && errors.Is(err, capfile.ErrNotCapture)
			return fe
		}
		defer r.Close()
		capture = r
	}
	args := append([]string(nil), cfg.Args...)
	args = append(args, "-T", "ek")
	if capture != nil {
		// tshark's offsets would be those of the filtered stream: no
		// positions with a BPF filter
		pos = ""
		args = append(args, "-r", "-")
	} else {
		args = append(args, "-r", path)
	}
	if pos != "" {
		args = append(args, "-o", "frame.show_file_off:TRUE")
	}
	if skip > 0 && capture == nil {
		// a resumed import: tshark still reads (and dissects) the first
		// records, the documents start after them
		args = append(args, "-Y", "frame.number > "+strconv.FormatUint(skip, 10))
	}
	if cfg.Count > 0 {
		args = append(args, "-c", strconv.FormatUint(cfg.Count, 10))
	}
	cmd := exec.CommandContext(ctx, cfg.Tshark, args...)
	cmd.Env = childEnv()
	var stdin io.WriteCloser
	switch {
	case capture != nil:
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: tshark: %w", path, err)}
		}
	case path == "-":
		cmd.Stdin = os.Stdin
	}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: tshark: %w", path, err)}
	}
	if err := cmd.Start(); err != nil {
		return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: starting tshark: %w", path, err)}
	}
	st.Files.Add(1)

	var frames func(uint64) uint64
	feedErr := make(chan error, 1)
	if capture != nil {
		fm := &frameMap{}
		frames = fm.lookup
		go func() {
			err := feedFiltered(ctx, capture, cfg.BPF, skip, stdin, fm, st)
			stdin.Close()
			feedErr <- err
		}()
	} else {
		feedErr <- nil
	}

	readErr := decodeStream(ctx, cfg, src, pos, stdout, frames, out, pool, st)
	if readErr != nil {
		// stop tshark: nothing more will be read
		cmd.Process.Kill()
		io.Copy(io.Discard, stdout)
	}
	waitErr := cmd.Wait()
	fErr := <-feedErr
	if ctx.Err() != nil {
		return nil // stopped on purpose: --count reached, interrupted, sink failed
	}
	msg := stderrText(stderr.Bytes())
	switch {
	case fErr != nil && !errors.Is(fErr, errFeedStopped):
		// the file's damage, or a filter that does not apply: what was
		// read before it is kept
		if waitErr == nil && readErr == nil {
			return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: %w", path, fErr)}
		}
		return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: %w; tshark: %v %v: %s", path, fErr, waitErr, readErr, msg)}
	case waitErr != nil && readErr == nil:
		fe := &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: tshark failed (%v): %s", path, waitErr, msg)}
		fe.Skipped = j.fromDir && bytes.Contains(stderr.Bytes(), []byte("isn't a capture file in a format TShark understands"))
		return fe
	case readErr != nil:
		return &pipeline.FileError{Name: path, Err: fmt.Errorf("%s: %w (tshark: %s)", path, readErr, msg)}
	case msg != "(nothing on standard error)":
		cfg.Warn(fmt.Errorf("%s: tshark: %s", path, msg))
	}
	return nil
}

// decodeStream reads tshark's EK output line by line, drops the bulk action
// lines and sends the documents of the packets to out.
//
// pos, if not "", is the pcap.file of the packets (tshark then runs with
// -o frame.show_file_off:TRUE). frames, if not nil, maps tshark's frame numbers to the ones written (see
// EKEncoder.SetFrameNumbers).
func decodeStream(ctx context.Context, cfg *Config, src *pipeline.Source, pos string, r io.Reader, frames func(uint64) uint64, out chan<- *pipeline.Batch, pool *sync.Pool, st *pipeline.Stats) error {
	br := bufio.NewReaderSize(r, 1<<20)
	var p fastjson.Parser
	var enc *encode.EKEncoder
	meta := encode.Meta{FileName: src.Name, FileDate: src.Date, PcapFile: pos}
	flows, packets := cfg.Flows != nil, cfg.Flows == nil || cfg.Flows.Packets()
	if flows {
		meta.FlowID = pipeline.FlowIDPlaceholder()
	}
	var long, doc []byte
	var b *pipeline.Batch
	send := func() error {
		if b == nil || b.Len() == 0 {
			return nil
		}
		select {
		case out <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	readErr := readLines(br, &long, func(lineNo int, line []byte, last bool) error {
		if len(line) == 0 || bytes.HasPrefix(line, []byte(`{"index":`)) {
			return nil
		}
		if last {
			// a packet line without its newline: tshark stopped mid-line
			return fmt.Errorf("tshark output ends inside line %d", lineNo)
		}
		if enc == nil {
			fields := cfg.Fields
			if fields == nil && cfg.FieldsFunc != nil {
				var err error
				if fields, err = cfg.FieldsFunc(); err != nil {
					return err
				}
			}
			enc = encode.NewEKEncoder(cfg.Protocols, fields)
			enc.SetFrameNumbers(frames)
		}
		v, err := p.ParseBytes(line)
		if err != nil {
			return fmt.Errorf("tshark output line %d: %w", lineNo, err)
		}
		if b == nil {
			b = pool.Get().(*pipeline.Batch)
			b.ResetDocs(src)
		}
		var info encode.EKInfo
		if flows {
			doc, info, err = enc.EncodeFlow(doc[:0], &meta, v, b.NextFlowPacket(), b)
		} else {
			doc, info, err = enc.Encode(doc[:0], &meta, v)
		}
		if err != nil {
			return fmt.Errorf("tshark output line %d: %w", lineNo, err)
		}
		st.Packets.Add(1)
		if !flows {
			b.AddDoc(doc, info.Timestamp, info.Number, info.Malformed)
		} else {
			d := pipeline.DocInfo{TS: info.Timestamp, Number: info.Number, Malformed: info.Malformed, OrigLen: info.OrigLen, Flow: info.Flow}
			if info.PcapOffset >= 0 {
				d.PcapFile, d.PcapOffset = pos, info.PcapOffset
			}
			if packets {
				b.AddFlowDoc(doc, d)
			} else {
				b.AddFlowDoc(nil, d) // no packet document
			}
		}
		if b.FlowDocsFull() || (cfg.flushIdle && br.Buffered() == 0) {
			return send()
		}
		return nil
	})
	// the documents before a failure are kept
	if err := send(); err != nil || ctx.Err() != nil {
		return nil
	}
	return readErr
}

// readLines calls fn with each line of r, without its line end; last is set
// for a final line without newline. long is a buffer for lines longer than
// br's buffer.
func readLines(br *bufio.Reader, long *[]byte, fn func(lineNo int, line []byte, last bool) error) error {
	lineNo := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a line longer than the buffer (large reassembled payloads)
			*long = append((*long)[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				*long = append(*long, line...)
			}
			line = *long
		}
		if len(line) > 0 {
			lineNo++
			if ferr := fn(lineNo, bytes.TrimRight(line, "\r\n"), err == io.EOF); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tshark output: %w", err)
		}
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		if len(p) > room {
			l.buf.Write(p[:room])
		} else {
			l.buf.Write(p)
		}
	}
	return len(p), nil
}

func (l *limitedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Bytes()
}
