package watch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/espcap/espcap-fast/internal/safefile"
)

// HashBytes is how much of a file's beginning its Identity hashes.
const HashBytes = 64 << 10

// stateVersion is the version of the state file format.
const stateVersion = 1

// Identity tells whether a file is the one an earlier run imported.
type Identity struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	Size    int64  `json:"size"`
	MtimeNs int64  `json:"mtime_ns"`
	// HashLen bytes from the start (min(Size, HashBytes)) hash to Hash
	// (SHA-256, hex).
	HashLen int64  `json:"hash_len"`
	Hash    string `json:"hash"`
}

// Entry is what the state knows of one file.
type Entry struct {
	Path string `json:"path"` // absolute
	Identity
	// Records is how many records (packets) of the file the sink
	// accepted, counted from its start.
	Records uint64 `json:"records"`
	// Done: the file was read to its end (or its damage) and everything
	// read was accepted.
	Done bool `json:"done"`
	// Note says why a file was left (not a capture file, damaged).
	Note string `json:"note,omitempty"`
}

type stateFile struct {
	Version int     `json:"version"`
	Files   []Entry `json:"files"`
}

// IdentityOf reads the identity of the regular file at path (a symbolic
// link is not followed). With prefix > 0 (at most HashBytes) it also
// returns the hash of the first prefix bytes, to compare with an older
// identity of the file when it was smaller.
func IdentityOf(path string, prefix int64) (id Identity, prefixHash string, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return id, "", err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return id, "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return id, "", fmt.Errorf("%s: not a regular file", path)
	}
	id = Identity{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size, MtimeNs: st.Mtim.Nano(), HashLen: min(st.Size, HashBytes)}
	buf := make([]byte, id.HashLen)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF {
		return id, "", fmt.Errorf("%s: %w", path, err)
	}
	buf = buf[:n]
	id.HashLen = int64(n)
	sum := sha256.Sum256(buf)
	id.Hash = hex.EncodeToString(sum[:])
	if prefix > 0 && prefix <= int64(n) {
		sum := sha256.Sum256(buf[:prefix])
		prefixHash = hex.EncodeToString(sum[:])
	}
	return id, prefixHash, nil
}

// State is the import state of a set of files: for each, its identity and
// how far it was imported. It is kept in one JSON file, replaced
// atomically on Save, and locked against a second run using it. A State is
// not safe for concurrent use.
type State struct {
	path  string
	lock  *os.File
	files map[string]*Entry
}

// OpenState reads the state file at path (none yet: an empty state) and
// locks it (path+".lock") for this process.
func OpenState(path string) (*State, error) {
	if err := safefile.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	lock, err := safefile.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("state file %s: in use by another espcap-fast (%v)", path, err)
	}
	s := &State{path: path, lock: lock, files: map[string]*Entry{}}
	f, err := safefile.OpenFile(path, os.O_RDONLY)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("state file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<30))
	f.Close()
	if err == nil {
		var entries []Entry
		if entries, err = ParseState(data); err == nil {
			for i := range entries {
				s.files[entries[i].Path] = &entries[i]
			}
		}
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("state file %s: %w (move it away to import every file again)", path, err)
	}
	return s, nil
}

// ParseState reads the entries of a state file. It refuses another
// version, a relative or repeated path, and impossible numbers.
func ParseState(data []byte) ([]Entry, error) {
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("not a watch state file: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not a watch state file: data after the end")
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("state file version %d, want %d", sf.Version, stateVersion)
	}
	seen := make(map[string]bool, len(sf.Files))
	for i, e := range sf.Files {
		switch {
		case !filepath.IsAbs(e.Path) || filepath.Clean(e.Path) != e.Path:
			return nil, fmt.Errorf("entry %d: path %q is not a clean absolute path", i, e.Path)
		case seen[e.Path]:
			return nil, fmt.Errorf("entry %d: path %q repeated", i, e.Path)
		case e.Size < 0 || e.HashLen < 0 || e.HashLen > min(e.Size, HashBytes):
			return nil, fmt.Errorf("entry %d (%s): size %d, hashed %d: impossible", i, e.Path, e.Size, e.HashLen)
		case len(e.Hash) != 2*sha256.Size || !isHex(e.Hash):
			return nil, fmt.Errorf("entry %d (%s): hash %q is not a SHA-256", i, e.Path, e.Hash)
		}
		seen[e.Path] = true
	}
	return sf.Files, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Marshal returns the state file's content (entries by path).
func (s *State) Marshal() []byte {
	sf := stateFile{Version: stateVersion, Files: make([]Entry, 0, len(s.files))}
	for _, e := range s.files {
		sf.Files = append(sf.Files, *e)
	}
	sort.Slice(sf.Files, func(i, j int) bool { return sf.Files[i].Path < sf.Files[j].Path })
	b, _ := json.MarshalIndent(&sf, "", " ")
	return append(b, '\n')
}

// Save writes the state file atomically.
func (s *State) Save() error { return safefile.WriteAtomic(s.path, s.Marshal()) }

// Close releases the state file's lock.
func (s *State) Close() error { return s.lock.Close() }

// Path is the state file's path.
func (s *State) Path() string { return s.path }

// Get returns a copy of the entry of the file at abs (ok false: none).
func (s *State) Get(abs string) (e Entry, ok bool) {
	p, ok := s.files[abs]
	if ok {
		e = *p
	}
	return e, ok
}

// Put records e (replacing the entry of its path).
func (s *State) Put(e Entry) { s.files[e.Path] = &e }

// Remove forgets the file at abs (deleted or moved away).
func (s *State) Remove(abs string) { delete(s.files, abs) }

// Prune forgets the files that are no longer where the state saw them
// (deleted, or rotated away by their writer), so that the state does not
// grow without end; it returns how many. A file renamed since is then
// imported as new under its new name.
func (s *State) Prune() int {
	n := 0
	for p := range s.files {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			delete(s.files, p)
			n++
		}
	}
	return n
}

// Len is the number of files the state knows.
func (s *State) Len() int { return len(s.files) }

// Decision is what to do with a file, given the state.
type Decision struct {
	Path string   // absolute
	ID   Identity // the file now
	// Skip: the file was imported whole and has not changed.
	Skip bool
	// From is the number of records already accepted (resume after them).
	From uint64
	// Why says what the state knew: "new", "unchanged", "resumed",
	// "appended", "renamed" or "changed".
	Why string
}

// Decide looks the file at path up: a file imported whole and unchanged
// is skipped; one partly imported, or grown since (same device, inode and
// beginning, larger), resumes after the records accepted; one whose
// identity changed (truncated, rewritten, replaced under the same name)
// is imported as new. A file renamed since (same device, inode and
// beginning under another name) keeps its entry.
func (s *State) Decide(path string) (Decision, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return Decision{}, err
	}
	e, ok := s.files[abs]
	var prefix int64
	if ok {
		prefix = e.HashLen
	}
	id, ph, err := IdentityOf(abs, prefix)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Path: abs, ID: id, Why: "new"}
	if !ok {
		e = s.renamed(id)
		if e == nil {
			return d, nil
		}
		old := e.Path
		s.Remove(old)
		e.Path = abs
		s.files[abs] = e
		if id == e.Identity {
			d.Skip, d.From, d.Why = e.Done, e.Records, "renamed"
			return d, nil
		}
		ph = ""
		if e.HashLen <= id.HashLen {
			_, ph, _ = IdentityOf(abs, e.HashLen)
		}
	}
	switch {
	case id == e.Identity:
		d.Skip, d.From, d.Why = e.Done, e.Records, "unchanged"
		if !e.Done {
			d.Why = "resumed"
		}
	case id.Dev == e.Dev && id.Ino == e.Ino && id.Size > e.Size && ph == e.Hash:
		d.From, d.Why = e.Records, "appended"
	default:
		d.Why = "changed"
	}
	return d, nil
}

// renamed finds an entry of the same file (device, inode, beginning)
// whose path no longer holds it.
func (s *State) renamed(id Identity) *Entry {
	for _, e := range s.files {
		if e.Dev != id.Dev || e.Ino != id.Ino || e.HashLen > id.HashLen {
			continue
		}
		if _, err := os.Lstat(e.Path); err == nil {
			continue // still there: a hard link, or a reused inode
		}
		return e
	}
	return nil
}
