// Package bulk indexes espcap-fast's packet documents into Elasticsearch 8/9
// or OpenSearch 2 with parallel bulk requests.
//
// One code path serves both products: bulk bodies are written by hand into
// pooled buffers (the documents arrive as serialized JSON; there is no
// per-document reflection or encoding/json), optionally gzip-compressed, and
// sent through elastic-transport-go's client (connection pool and node
// selection, without go-elasticsearch's X-Elastic-Product check that
// rejects OpenSearch). Its own retries are off: the Indexer checks every
// bulk item's status and re-sends only the items that failed with 429, 5xx
// or a connection error, with exponential backoff and jitter; a 409 on
// "create" (the _id exists: a re-import) is counted as a duplicate; other
// rejections go to a dead-letter NDJSON file with the reason. Nothing is
// dropped silently: every added document ends up counted as Indexed,
// Duplicate or DeadLettered.
//
// Backpressure: Add blocks while Config.Indexers bulk requests are in
// flight and the batch being filled is full, so memory stays bounded by
// about (Indexers+1)*MaxBytes of uncompressed bodies plus one compressed
// copy and one response per worker.
package bulk
