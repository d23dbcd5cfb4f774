//go:build cgo

package filter

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Layouts of libpcap's struct bpf_insn and struct bpf_program (pcap/bpf.h),
// declared here so that no libpcap headers are needed to build.
struct ef_bpf_insn {
	unsigned short code;
	unsigned char jt;
	unsigned char jf;
	unsigned int k;
};
struct ef_bpf_program {
	unsigned int bf_len;
	struct ef_bpf_insn *bf_insns;
};

typedef void *(*ef_open_dead_fn)(int linktype, int snaplen);
typedef void *(*ef_fopen_offline_fn)(FILE *fp, char *errbuf);
typedef int (*ef_compile_fn)(void *p, struct ef_bpf_program *fp, const char *str, int optimize, unsigned int netmask);
typedef char *(*ef_geterr_fn)(void *p);
typedef void (*ef_freecode_fn)(struct ef_bpf_program *fp);
typedef void (*ef_close_fn)(void *p);
typedef int (*ef_int_fn)(void *p);
typedef const char *(*ef_name_fn)(int dlt);

struct ef_lib {
	void *handle;
	ef_open_dead_fn open_dead;
	ef_fopen_offline_fn fopen_offline;
	ef_compile_fn compile;
	ef_geterr_fn geterr;
	ef_freecode_fn freecode;
	ef_close_fn close;
	ef_int_fn datalink;
	ef_int_fn snapshot;
	ef_name_fn dlt_name; // optional
};

static struct ef_lib ef_pcap;

static struct ef_lib ef_get(void) { return ef_pcap; }
static void ef_set(struct ef_lib l) { ef_pcap = l; }

#define EF_NSYMS 8

// ef_load opens name and resolves the symbols. It returns 0 on success and
// otherwise writes the reason to err.
static int ef_load(const char *name, char *err, size_t errlen) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return -1;
	}
	static const char *names[EF_NSYMS] = {"pcap_open_dead", "pcap_fopen_offline", "pcap_compile",
		"pcap_geterr", "pcap_freecode", "pcap_close", "pcap_datalink", "pcap_snapshot"};
	void *syms[EF_NSYMS];
	for (int i = 0; i < EF_NSYMS; i++) {
		dlerror();
		syms[i] = dlsym(h, names[i]);
		if (syms[i] == NULL) {
			snprintf(err, errlen, "%s: symbol %s not found", name, names[i]);
			dlclose(h);
			return -1;
		}
	}
	struct ef_lib l;
	memset(&l, 0, sizeof l);
	l.handle = h;
	l.open_dead = (ef_open_dead_fn)syms[0];
	l.fopen_offline = (ef_fopen_offline_fn)syms[1];
	l.compile = (ef_compile_fn)syms[2];
	l.geterr = (ef_geterr_fn)syms[3];
	l.freecode = (ef_freecode_fn)syms[4];
	l.close = (ef_close_fn)syms[5];
	l.datalink = (ef_int_fn)syms[6];
	l.snapshot = (ef_int_fn)syms[7];
	l.dlt_name = (ef_name_fn)dlsym(h, "pcap_datalink_val_to_name");
	ef_pcap = l;
	return 0;
}

static unsigned int ef_swap32(unsigned int v) {
	return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}

// ef_compile compiles expr. If live is 0 it compiles as tcpdump -r does,
// on a pcap_t reading a capture file (made in memory: just the 24-byte
// file header) of link type linktype (a LINKTYPE_ value), snapshot length
// snaplen, in this machine's byte order or, if swapped, the other one;
// otherwise on pcap_open_dead(linktype, snaplen), linktype being a DLT_
// value. On success it returns the number of instructions and sets *out to
// a malloc'ed copy (to free with free), *dlt and *snap to what libpcap
// used; on failure it returns -1 with the reason in err.
static int ef_compile(int live, int linktype, int snaplen, int swapped, const char *expr,
		int optimize, unsigned int netmask, struct ef_bpf_insn **out, int *dlt, int *snap,
		char *err, size_t errlen) {
	void *p = NULL;
	char *hdrbuf = NULL;
	if (live) {
		p = ef_pcap.open_dead(linktype, snaplen);
		if (p == NULL) {
			snprintf(err, errlen, "pcap_open_dead failed");
			return -1;
		}
	} else {
		// struct pcap_file_header, in host byte order or swapped.
		struct {
			unsigned int magic;
			unsigned short major, minor;
			unsigned int thiszone, sigfigs, snaplen, linktype;
		} hdr;
		memset(&hdr, 0, sizeof hdr);
		hdr.magic = 0xa1b2c3d4;
		hdr.major = 2;
		hdr.minor = 4;
		hdr.snaplen = (unsigned int)snaplen;
		hdr.linktype = (unsigned int)linktype;
		if (swapped) {
			hdr.magic = ef_swap32(hdr.magic);
			hdr.major = (unsigned short)(hdr.major << 8);
			hdr.minor = (unsigned short)(hdr.minor << 8);
			hdr.snaplen = ef_swap32(hdr.snaplen);
			hdr.linktype = ef_swap32(hdr.linktype);
		}
		hdrbuf = malloc(sizeof hdr);
		if (hdrbuf == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(hdrbuf, &hdr, sizeof hdr);
		FILE *fp = fmemopen(hdrbuf, sizeof hdr, "rb");
		if (fp == NULL) {
			free(hdrbuf);
			snprintf(err, errlen, "fmemopen failed");
			return -1;
		}
		char ebuf[512]; // PCAP_ERRBUF_SIZE is 256
		ebuf[0] = 0;
		p = ef_pcap.fopen_offline(fp, ebuf);
		if (p == NULL) {
			fclose(fp);
			free(hdrbuf);
			snprintf(err, errlen, "%s", ebuf[0] ? ebuf : "pcap_fopen_offline failed");
			return -1;
		}
	}
	*dlt = ef_pcap.datalink(p);
	*snap = ef_pcap.snapshot(p);
	struct ef_bpf_program prog;
	memset(&prog, 0, sizeof prog);
	if (ef_pcap.compile(p, &prog, expr, optimize, netmask) != 0) {
		const char *e = ef_pcap.geterr(p);
		snprintf(err, errlen, "%s", (e && *e) ? e : "pcap_compile failed");
		ef_pcap.close(p); // closes the FILE too
		free(hdrbuf);
		return -1;
	}
	int n = (int)prog.bf_len;
	struct ef_bpf_insn *copy = malloc((size_t)n * sizeof *copy + 1);
	if (copy != NULL && n > 0) {
		memcpy(copy, prog.bf_insns, (size_t)n * sizeof *copy);
	}
	ef_pcap.freecode(&prog);
	ef_pcap.close(p);
	free(hdrbuf);
	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = copy;
	return n;
}

static const char *ef_dlt_name(int dlt) {
	if (ef_pcap.dlt_name == NULL) {
		return NULL;
	}
	return ef_pcap.dlt_name(dlt);
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/net/bpf"
)

// State of the libpcap loader, guarded by pcapMu.
var (
	libLoaded bool
	libErr    error
	libNames  = LibraryNames
)

const errBufLen = 1024

// loadLib loads libpcap once; pcapMu must be held.
func loadLib() error {
	if libLoaded {
		return libErr
	}
	libLoaded = true
	buf := (*C.char)(C.malloc(errBufLen))
	defer C.free(unsafe.Pointer(buf))
	var reasons []string
	for _, name := range libNames {
		cname := C.CString(name)
		rc := C.ef_load(cname, buf, errBufLen)
		C.free(unsafe.Pointer(cname))
		if rc == 0 {
			libErr = nil
			return nil
		}
		reasons = append(reasons, C.GoString(buf))
	}
	libErr = fmt.Errorf("filter: %w: --bpf needs libpcap (Debian/Ubuntu: apt-get install libpcap0.8; Fedora: libpcap), which is loaded at run time; tried %s (%s)",
		ErrUnavailable, strings.Join(libNames, ", "), strings.Join(reasons, "; "))
	return libErr
}

// setLibNamesForTest makes the loader try names from scratch; the returned
// function restores the previous state. Tests only.
func setLibNamesForTest(names []string) (restore func()) {
	pcapMu.Lock()
	defer pcapMu.Unlock()
	oldNames, oldLoaded, oldErr, oldLib := libNames, libLoaded, libErr, C.ef_get()
	libNames, libLoaded, libErr = names, false, nil
	return func() {
		pcapMu.Lock()
		defer pcapMu.Unlock()
		libNames, libLoaded, libErr = oldNames, oldLoaded, oldErr
		C.ef_set(oldLib)
	}
}

// compileRaw compiles expr; pcapMu must be held. err reports that libpcap
// is unavailable; msg is libpcap's error message. dlt and snap are the
// DLT_ value and snapshot length libpcap compiled for.
func compileRaw(expr string, linkType int, o Options) (raw []bpf.RawInstruction, dlt, snap int, msg string, err error) {
	if err := loadLib(); err != nil {
		return nil, 0, 0, "", err
	}
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	buf := (*C.char)(C.malloc(errBufLen))
	defer C.free(unsafe.Pointer(buf))
	var out *C.struct_ef_bpf_insn
	var cdlt, csnap C.int
	live, swapped := 0, 0
	if o.Live {
		live = 1
	}
	if o.swapped() {
		swapped = 1
	}
	// Optimised, netmask 0: what tcpdump -r does.
	n := int(C.ef_compile(C.int(live), C.int(linkType), C.int(o.Snaplen), C.int(swapped), cexpr,
		1, 0, &out, &cdlt, &csnap, buf, errBufLen))
	if n < 0 {
		return nil, 0, 0, C.GoString(buf), nil
	}
	defer C.free(unsafe.Pointer(out))
	ins := unsafe.Slice(out, n)
	raw = make([]bpf.RawInstruction, n)
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: uint16(in.code), Jt: uint8(in.jt), Jf: uint8(in.jf), K: uint32(in.k)}
	}
	return raw, int(cdlt), int(csnap), "", nil
}

// dltName returns libpcap's name for a DLT_ value, or ""; pcapMu must be
// held and libpcap loaded.
func dltName(dlt int) string {
	s := C.ef_dlt_name(C.int(dlt))
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

// cgoEnabled tells tests which implementation is built.
const cgoEnabled = true
