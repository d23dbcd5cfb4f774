package bulk

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultChunk          = 1000            // docs per bulk request, espcap's value
	DefaultMaxBytes       = 5 << 20         // bulk body cap before compression
	DefaultIndexers       = 2               // bulk requests in flight
	DefaultRequestTimeout = 2 * time.Minute // per bulk request, then retried
	DefaultFlushInterval  = time.Second     // most time a document waits in a partly filled request
	maxBackoff            = 30 * time.Second
	baseBackoff           = 100 * time.Millisecond
)

// Config configures an Indexer. The zero value of every numeric field means
// "use the default"; Gzip has no such default because its zero value is
// false, so start from DefaultConfig to get compression on.
type Config struct {
	// Nodes are "host:port" (http assumed) or http(s) URLs; an element may
	// hold a comma-separated list. Credentials in a URL's user info are
	// used for basic auth and removed from the URL (never logged).
	Nodes []string
	// Chunk is the maximum number of documents per bulk request (1000).
	Chunk int
	// MaxBytes caps the uncompressed bulk body (5 MiB). A single document
	// larger than that is sent alone.
	MaxBytes int
	// Indexers is the number of bulk requests in flight (2).
	Indexers int
	// Gzip compresses request bodies (Content-Encoding: gzip).
	Gzip bool
	// Action is the bulk action: "create" (default: an existing _id
	// answers 409, counted as a duplicate, so re-imports never overwrite)
	// or "index" (overwrite).
	Action string
	// User and Password enable basic auth; APIKey sends
	// "Authorization: ApiKey ..." (base64 "id:key" as Elasticsearch issues it).
	User, Password, APIKey string
	// CACert is the path of a PEM file with the CA(s) to trust for https.
	CACert string
	// Insecure disables TLS certificate verification (never the default).
	Insecure bool
	// DeadLetter is the path of an NDJSON file (appended to) that receives
	// every item rejected for good, with status and reason. Empty: such
	// items are logged through Logf and counted.
	DeadLetter string
	// MaxRetries bounds retries of one item (429, 5xx, connection errors);
	// 0 retries until Close's context ends.
	MaxRetries int
	// RequestTimeout bounds one bulk HTTP request (2 min); a request that
	// times out is retried.
	RequestTimeout time.Duration
	// FlushInterval is the most time a document waits in a bulk request
	// that is not full yet (1 s, as Packetbeat's flush timeout): a live
	// sensor on a quiet link still sends what it captured. Negative: until
	// the request fills, or Flush or Close.
	FlushInterval time.Duration
	// Logf receives progress and problem reports; nil discards them.
	Logf func(format string, args ...any)

	// Privileges says what the command needs when the server answers 403
	// (empty: what an import needs, ImportPrivileges).
	Privileges string

	// RefreshOnClose, if set, is the index pattern Close refreshes after
	// the last documents were answered, so that what a run reports as
	// indexed is searchable at once (instead of after refresh_interval).
	RefreshOnClose string

	// KeepAborted is for a caller that keeps every document until
	// OnAnswered says it was answered (the spool): documents abandoned by
	// an abort (Close with an expired context) are counted in
	// Stats.Abandoned and left to the caller, not written to the
	// dead-letter file, and Close does not report them as an error.
	KeepAborted bool
}

// DefaultConfig returns a Config with the documented defaults, gzip on.
func DefaultConfig() Config {
	return Config{
		Chunk:          DefaultChunk,
		MaxBytes:       DefaultMaxBytes,
		Indexers:       DefaultIndexers,
		Gzip:           true,
		Action:         "create",
		RequestTimeout: DefaultRequestTimeout,
	}
}

// withDefaults validates cfg and fills in zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Chunk == 0 {
		cfg.Chunk = DefaultChunk
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Indexers == 0 {
		cfg.Indexers = DefaultIndexers
	}
	if cfg.Action == "" {
		cfg.Action = "create"
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	switch {
	case cfg.Chunk < 0:
		return cfg, fmt.Errorf("bulk: chunk must be positive, got %d", cfg.Chunk)
	case cfg.MaxBytes < 0:
		return cfg, fmt.Errorf("bulk: max bytes must be positive, got %d", cfg.MaxBytes)
	case cfg.Indexers < 0 || cfg.Indexers > 256:
		return cfg, fmt.Errorf("bulk: indexers must be 1..256, got %d", cfg.Indexers)
	case cfg.MaxRetries < 0:
		return cfg, fmt.Errorf("bulk: max retries must be >= 0, got %d", cfg.MaxRetries)
	case cfg.Action != "create" && cfg.Action != "index":
		return cfg, fmt.Errorf("bulk: action must be create or index, got %q", cfg.Action)
	case cfg.APIKey != "" && cfg.User != "":
		return cfg, errors.New("bulk: give either a user/password or an API key, not both")
	}
	return cfg, nil
}

// NodeSecurity is what a node list says about credentials and transport,
// for the warnings a command prints.
type NodeSecurity struct {
	User        string // user named in a node URL ("" if none)
	URLPassword bool   // a node URL holds a password
	PlainHTTP   bool   // a node is reached over plain http
}

// InspectNodes parses the node list as New does and reports what it holds.
func InspectNodes(nodes []string) (NodeSecurity, error) {
	urls, user, pass, err := parseNodes(nodes)
	if err != nil {
		return NodeSecurity{}, err
	}
	ns := NodeSecurity{User: user, URLPassword: pass != ""}
	for _, u := range urls {
		ns.PlainHTTP = ns.PlainHTTP || u.Scheme == "http"
	}
	return ns, nil
}

// parseNodes turns the node list into URLs without user info, returning any
// credentials found in them. A node without a port is on port 9200 (also
// for a URL with a scheme, as Beats read their hosts). Errors never quote the node text, which may
// hold a password.
func parseNodes(nodes []string) (urls []*url.URL, user, pass string, err error) {
	n := 0
	for _, elem := range nodes {
		for _, s := range strings.Split(elem, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			n++
			if !strings.Contains(s, "://") {
				s = "http://" + s
			}
			u, perr := url.Parse(s)
			if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, "", "", fmt.Errorf("bulk: node %d is not host:port or an http(s) URL", n)
			}
			if u.Port() == "" {
				// as Beats and Logstash read their hosts: no port means 9200
				u.Host = net.JoinHostPort(u.Hostname(), "9200")
			}
			if u.User != nil {
				user = u.User.Username()
				pass, _ = u.User.Password()
				u.User = nil
			}
			u.Path = strings.TrimRight(u.Path, "/")
			u.RawQuery, u.Fragment = "", ""
			urls = append(urls, u)
		}
	}
	if len(urls) == 0 {
		return nil, "", "", errors.New("bulk: no Elasticsearch node given")
	}
	return urls, user, pass, nil
}

// httpTransport builds the HTTP transport (TLS settings, keep-alive pool
// sized for the indexers).
func (cfg Config) httpTransport() (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = cfg.Indexers + 4
	t.MaxIdleConns = 4 * (cfg.Indexers + 4)
	t.ResponseHeaderTimeout = cfg.RequestTimeout
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("bulk: read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bulk: no PEM certificate in %s", cfg.CACert)
		}
		tc.RootCAs = pool
	}
	if cfg.Insecure {
		tc.InsecureSkipVerify = true // #nosec G402 -- explicit --insecure
	}
	t.TLSClientConfig = tc
	return t, nil
}

// certHint follows TLS certificate errors.
const certHint = " (the server's TLS certificate is not trusted: give its CA with --ca-cert, or --insecure to skip verification)"

// certError reports whether err is a TLS certificate verification failure
// (unknown authority, expired, wrong host name), which retrying cannot fix:
// the indexer fails at once instead of retrying without end. crypto/tls
// wraps every such failure of the handshake in a CertificateVerificationError.
func certError(err error) bool {
	var ve *tls.CertificateVerificationError
	return errors.As(err, &ve)
}
