//go:build cgo

package privdrop

/*
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// ef_* run one prctl or capset system call on every thread of the process
// in a build with cgo, where the Go runtime cannot (AllThreadsSyscall
// answers ENOTSUP): the calling thread first, then every other thread in
// /proc/self/task from a signal handler, as libcap's psx and glibc's setxid
// broadcast do. The handler only makes the system call and counts.
static long ef_nr, ef_a1, ef_a2;
static int ef_done, ef_failed;

static void ef_handler(int sig, siginfo_t *si, void *uc) {
	int saved = errno;
	if (syscall(ef_nr, ef_a1, ef_a2, 0) != 0) {
		__atomic_store_n(&ef_failed, errno, __ATOMIC_SEQ_CST);
	}
	__atomic_add_fetch(&ef_done, 1, __ATOMIC_SEQ_CST);
	errno = saved;
}

// ef_all_threads returns 0, the errno of the first failure, or ETIMEDOUT
// when a signalled thread did not answer within 5 s.
static int ef_all_threads(long nr, long a1, long a2) {
	if (syscall(nr, a1, a2, 0) != 0) {
		return errno;
	}
	ef_nr = nr;
	ef_a1 = a1;
	ef_a2 = a2;
	__atomic_store_n(&ef_done, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&ef_failed, 0, __ATOMIC_SEQ_CST);
	int sig = SIGRTMAX - 2;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = ef_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0) {
		return errno;
	}
	pid_t pid = getpid();
	long self = syscall(SYS_gettid);
	int sent = 0;
	DIR *d = opendir("/proc/self/task");
	if (d == NULL) {
		int e = errno;
		sigaction(sig, &old, NULL);
		return e;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		long tid = atol(de->d_name);
		if (tid <= 0 || tid == self) {
			continue;
		}
		if (syscall(SYS_tgkill, pid, tid, sig) == 0) {
			sent++;
		}
	}
	closedir(d);
	struct timespec pause = {0, 100000};
	for (int i = 0; i < 50000 && __atomic_load_n(&ef_done, __ATOMIC_SEQ_CST) < sent; i++) {
		nanosleep(&pause, NULL);
	}
	int done = __atomic_load_n(&ef_done, __ATOMIC_SEQ_CST);
	sigaction(sig, &old, NULL);
	int failed = __atomic_load_n(&ef_failed, __ATOMIC_SEQ_CST);
	if (failed != 0) {
		return failed;
	}
	return done < sent ? ETIMEDOUT : 0;
}
*/
import "C"

import "syscall"

// broadcast runs a prctl or capset system call on every thread of the
// process from a signal handler (a build with cgo; see ef_all_threads).
func broadcast(trap, a1, a2 uintptr) error {
	if e := C.ef_all_threads(C.long(trap), C.long(a1), C.long(a2)); e != 0 {
		return syscall.Errno(e)
	}
	return nil
}
