package watch

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDecide(t *testing.T) {
	dir := t.TempDir()
	data := sample(t)
	big := bytes.Repeat(data, 3) // beyond HashBytes
	st, err := OpenState(filepath.Join(dir, "state", "watch.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := filepath.Join(dir, "a.pcap")
	record := func(records uint64, done bool) {
		t.Helper()
		d, err := st.Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		st.Put(Entry{Path: d.Path, Identity: d.ID, Records: records, Done: done})
	}
	check := func(name, why string, skip bool, from uint64) {
		t.Helper()
		d, err := st.Decide(p)
		if err != nil {
			t.Fatal(err)
		}
		if d.Why != why || d.Skip != skip || d.From != from {
			t.Fatalf("%s: got %+v, want %s skip=%v from=%d", name, d, why, skip, from)
		}
	}
	mustWrite(t, p, big)
	check("unknown file", "new", false, 0)
	record(10, false)
	check("partly imported", "resumed", false, 10)
	record(99, true)
	check("imported whole", "unchanged", true, 99)

	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(data[24:200])
	f.Close()
	check("appended", "appended", false, 99)
	record(120, true)

	mustWrite(t, p, big[:len(big)/2])
	check("truncated", "changed", false, 0)
	record(50, true)

	alt := append([]byte(nil), big...)
	alt[100] ^= 0xff
	tmp := filepath.Join(dir, "b")
	mustWrite(t, tmp, alt)
	os.Rename(tmp, p)
	check("replaced under the same name", "changed", false, 0)
	record(77, true)

	moved := filepath.Join(dir, "renamed.pcap")
	os.Rename(p, moved)
	p = moved
	check("renamed", "renamed", true, 77)
	if n := st.Prune(); n != 0 {
		t.Fatalf("pruned %d entries of files still there", n)
	}
	os.Remove(p)
	if n := st.Prune(); n != 1 || st.Len() != 0 {
		t.Fatalf("pruned %d, %d left; want the deleted file's entry gone", n, st.Len())
	}

	// small files: the hash covers the whole file, and grows with it
	p = filepath.Join(dir, "small.pcap")
	mustWrite(t, p, data[:100])
	record(1, true)
	f, _ = os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(data[100:300])
	f.Close()
	check("small file appended", "appended", false, 1)
}

func TestStateSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "watch.json")
	st, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "x.pcap")
	mustWrite(t, p, sample(t))
	d, err := st.Decide(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Path: d.Path, Identity: d.ID, Records: 42, Done: true, Note: "a note"}
	st.Put(want)
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(path); err == nil {
		t.Fatal("a second user of the state file was not refused")
	}
	st.Close()
	st2, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	got, ok := st2.Get(d.Path)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestBadStateFile(t *testing.T) {
	hash := "\"" + string(bytes.Repeat([]byte("ab"), 32)) + "\""
	for name, content := range map[string]string{
		"not json":      "hello",
		"other version": `{"version":2,"files":[]}`,
		"relative path": `{"version":1,"files":[{"path":"a.pcap","hash":` + hash + `}]}`,
		"repeated path": `{"version":1,"files":[{"path":"/a","hash":` + hash + `},{"path":"/a","hash":` + hash + `}]}`,
		"bad hash":      `{"version":1,"files":[{"path":"/a","hash":"xyz"}]}`,
		"hash too long": `{"version":1,"files":[{"path":"/a","size":10,"hash_len":20,"hash":` + hash + `}]}`,
		"unknown field": `{"version":1,"files":[],"extra":1}`,
		"trailing data": `{"version":1,"files":[]} {}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseState([]byte(content)); err == nil {
				t.Fatal("accepted")
			}
			path := filepath.Join(t.TempDir(), "s.json")
			mustWrite(t, path, []byte(content))
			if _, err := OpenState(path); err == nil {
				t.Fatal("OpenState accepted it")
			}
		})
	}
	if _, err := OpenState("/proc/version/x/state.json"); err == nil {
		t.Fatal("a state file in an impossible place was accepted")
	}
}

func FuzzParseState(f *testing.F) {
	hash := string(bytes.Repeat([]byte("0f"), 32))
	f.Add([]byte(`{"version":1,"files":[{"path":"/a/b.pcap","dev":1,"ino":2,"size":100,"mtime_ns":5,"hash_len":100,"hash":"` + hash + `","records":3,"done":true}]}`))
	f.Add([]byte(`{"version":1,"files":[]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseState(data)
		if err != nil {
			return
		}
		st := &State{files: map[string]*Entry{}}
		for _, e := range entries {
			st.Put(e)
		}
		again, err := ParseState(st.Marshal())
		if err != nil {
			t.Fatalf("its own output refused: %v", err)
		}
		if len(again) != len(entries) {
			t.Fatalf("%d entries, then %d", len(entries), len(again))
		}
		for _, e := range again {
			if got, _ := st.Get(e.Path); !reflect.DeepEqual(got, e) {
				t.Fatalf("%+v became %+v", got, e)
			}
		}
	})
}
