// cpuid_mask.so: LD_PRELOAD it and the process sees an AVX2+FMA-only x86-64 CPU (a Zen 3 class
// CPU) on an AVX-512 machine, at native speed. bench/backbone.sh runs its avx2 rows under it so
// nala and every peer pick the kernels they would pick on such a CPU (bench/README.md).
//
//   LD_PRELOAD=build/bench/cpuid_mask.so NALA_CPUID_MASK_VERBOSE=1 ./build/nala bench backbone ...
//
// How: Linux's arch_prctl(ARCH_SET_CPUID, 0) makes CPUID fault (#GP -> SIGSEGV, si_code SI_KERNEL)
// on CPUs with "cpuid_fault" in /proc/cpuinfo. Our SIGSEGV handler sees 0F A2 at RIP, turns CPUID
// back on for a moment, runs the real instruction with the saved EAX/ECX, turns faulting on again,
// clears the AVX-512 family bits (and AMX, AVX-VNNI, AVX10, none of which a Zen 3 has) and skips
// the 2 bytes. Any other SIGSEGV goes to the handler the program installed, or the default action.
//
// Kernel semantics (arch/x86/kernel/process.c, arch_prctl(2)): the setting is per thread, copied
// to the children of clone/fork, and reset by execve. Threads made after we switch it on inherit
// it; an exec'd child needs LD_PRELOAD in its environment again (it is inherited with the rest).
//
// Why so early: the switch is made from an IFUNC resolver, which ld.so runs while it relocates
// this object, before any library constructor (OpenCV and OpenBLAS read CPUID in theirs). Only
// ld.so's own CPUID read (glibc's string-function choice) precedes us: bench/backbone.sh passes
// GLIBC_TUNABLES for that. XGETBV is not trapped: it still reports the ZMM state enabled, and every
// library gates AVX-512 on the CPUID bits first (bench/README.md lists how each engine was checked).
//
// So that the program cannot take SIGSEGV from us, sigaction() and signal() are interposed: a
// SIGSEGV handler the program installs is recorded and chained to, ours stays installed (the trick
// the JVM's libjsig uses). A handler installed behind our back (a raw rt_sigaction syscall) would
// get the CPUID faults and crash the program: loud, never a silent AVX-512; we also check at exit.
//
// Without cpuid_fault (older AMD CPUs, hypervisors that hide it) arch_prctl fails: one line on stderr, and the
// process runs unchanged. NALA_CPUID_MASK_VERBOSE=1 prints how many CPUIDs were emulated at exit.
//
// Everything here is raw syscalls and lock-free atomics, so the handler is async-signal-safe and
// works before libc is relocated. The state is file-scope because a signal handler has no other
// way to reach it: a bench tool, not part of the library.
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <dirent.h>

#define KERNEL_SA_RESTORER 0x04000000UL

// The kernel's struct sigaction for rt_sigaction (glibc's has a 1024-bit mask and another order).
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  uint64_t mask;
};

enum { STATE_OFF = 0, STATE_ON = 1, STATE_FAILED = 2 };

static struct {
  atomic_int state;              // STATE_*: set once, by the first install
  int arch_prctl_errno;          // why faulting could not be turned on
  atomic_ulong emulated;         // CPUIDs answered by the handler
  atomic_ulong chained;          // non-CPUID SIGSEGVs passed on
  atomic_int app_segv_lock;      // spin lock around app_segv (the program's sigaction calls)
  struct sigaction app_segv;     // the SIGSEGV disposition the program believes it has
} g_mask;

static long raw_syscall4(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return ret;
}

static long set_cpuid(int enabled) { return raw_syscall4(SYS_arch_prctl, ARCH_SET_CPUID, enabled, 0, 0); }

// rt_sigreturn trampoline: the kernel needs one (SA_RESTORER) and glibc's is not ours to name.
void nala_cpuid_mask_restore_rt(void);
__asm__(".text\n.globl nala_cpuid_mask_restore_rt\n.type nala_cpuid_mask_restore_rt,@function\n"
        "nala_cpuid_mask_restore_rt:\n  mov $15, %rax\n  syscall\n  hlt\n"
        ".size nala_cpuid_mask_restore_rt,.-nala_cpuid_mask_restore_rt\n");

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

// What an AVX2+FMA-only CPU answers (Zen 3 has none of the bits cleared here; it keeps F16C, BMI,
// VAES and VPCLMULQDQ, as this does).
static void mask_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  if (leaf == 7 && sub == 0) {
    // EBX: AVX512F 16, DQ 17, IFMA 21, PF 26, ER 27, CD 28, BW 30, VL 31
    r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
    // ECX: VBMI 1, VBMI2 6, VNNI 11, BITALG 12, VPOPCNTDQ 14
    r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
    // EDX: 4VNNIW 2, 4FMAPS 3, VP2INTERSECT 8, AMX-BF16 22, FP16 23, AMX-TILE 24, AMX-INT8 25
    r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
  } else if (leaf == 7 && sub == 1) {
    // EAX: AVX-VNNI 4, AVX512_BF16 5, AMX-FP16 21, AVX-IFMA 23
    r[0] &= ~((1u << 4) | (1u << 5) | (1u << 21) | (1u << 23));
    // EDX: AVX-VNNI-INT8 4, AVX-NE-CONVERT 5, AMX-COMPLEX 8, AVX-VNNI-INT16 10, AVX10 19
    r[3] &= ~((1u << 4) | (1u << 5) | (1u << 8) | (1u << 10) | (1u << 19));
  } else if (leaf == 0x24) {  // AVX10 converged vector ISA leaf: absent with AVX10 cleared above
    r[0] = r[1] = r[2] = r[3] = 0;
  }
}

static void app_lock(void) {
  while (atomic_exchange_explicit(&g_mask.app_segv_lock, 1, memory_order_acquire)) {
  }
}
static void app_unlock(void) { atomic_store_explicit(&g_mask.app_segv_lock, 0, memory_order_release); }

// A SIGSEGV that is not a CPUID: do what the program's own disposition says.
static void chain(int sig, siginfo_t *info, void *uc) {
  atomic_fetch_add(&g_mask.chained, 1);
  app_lock();
  struct sigaction prev = g_mask.app_segv;
  if (prev.sa_flags & SA_RESETHAND) {
    memset(&g_mask.app_segv, 0, sizeof g_mask.app_segv);
    g_mask.app_segv.sa_handler = SIG_DFL;
  }
  app_unlock();
  if (prev.sa_flags & SA_SIGINFO) {
    prev.sa_sigaction(sig, info, uc);
  } else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
  } else {
    // Default action (a fault cannot be ignored): restore it and let the fault happen again, or
    // resend a signal that came from kill/raise, so the process dies as it would have without us.
    struct kernel_sigaction dfl = {0};
    raw_syscall4(SYS_rt_sigaction, SIGSEGV, (long)&dfl, 0, sizeof dfl.mask);
    if (info->si_code <= 0)
      raw_syscall4(SYS_tgkill, raw_syscall4(SYS_getpid, 0, 0, 0, 0), raw_syscall4(SYS_gettid, 0, 0, 0, 0), sig, 0);
  }
}

static void on_segv(int sig, siginfo_t *info, void *ucv) {
  ucontext_t *uc = ucv;
  greg_t *gr = uc->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)gr[REG_RIP];
  // CPUID faulting raises #GP: SI_KERNEL, and RIP is the (fetched, so mapped) instruction itself.
  if (info->si_code != SI_KERNEL || ip[0] != 0x0f || ip[1] != 0xa2) {
    chain(sig, info, ucv);
    return;
  }
  int saved_errno = errno;
  uint32_t leaf = (uint32_t)gr[REG_RAX], sub = (uint32_t)gr[REG_RCX], r[4];
  set_cpuid(1);
  real_cpuid(leaf, sub, r);
  set_cpuid(0);
  mask_cpuid(leaf, sub, r);
  // CPUID writes the 32-bit registers, which zeroes their upper halves.
  gr[REG_RAX] = r[0];
  gr[REG_RBX] = r[1];
  gr[REG_RCX] = r[2];
  gr[REG_RDX] = r[3];
  gr[REG_RIP] += 2;
  atomic_fetch_add(&g_mask.emulated, 1);
  errno = saved_errno;
}

// Install the handler and turn faulting on, once, with raw syscalls only (see "Why so early").
static void install(void) {
  int expected = STATE_OFF;
  if (atomic_load(&g_mask.state) != STATE_OFF)
    return;
  struct kernel_sigaction old = {0}, ours = {0};
  raw_syscall4(SYS_rt_sigaction, SIGSEGV, 0, (long)&old, sizeof old.mask);
  g_mask.app_segv.sa_handler = old.handler;  // SIG_DFL this early; kept in case it is not
  g_mask.app_segv.sa_flags = (int)(old.flags & ~KERNEL_SA_RESTORER);
  ours.handler = (void *)on_segv;
  ours.flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER | KERNEL_SA_RESTORER;
  ours.restorer = (void *)nala_cpuid_mask_restore_rt;
  // Other signals wait while CPUID is briefly on (a handler of theirs could read it unmasked);
  // synchronous faults stay unblocked, a blocked one would kill the process.
  ours.mask = ~((1ull << (SIGSEGV - 1)) | (1ull << (SIGBUS - 1)) | (1ull << (SIGILL - 1)) | (1ull << (SIGFPE - 1)) |
                (1ull << (SIGTRAP - 1)));
  long rc = raw_syscall4(SYS_rt_sigaction, SIGSEGV, (long)&ours, 0, sizeof ours.mask);
  if (rc == 0)
    rc = set_cpuid(0);
  if (rc != 0) {
    g_mask.arch_prctl_errno = (int)-rc;
    raw_syscall4(SYS_rt_sigaction, SIGSEGV, (long)&old, 0, sizeof old.mask);
    atomic_compare_exchange_strong(&g_mask.state, &expected, STATE_FAILED);
    return;
  }
  atomic_compare_exchange_strong(&g_mask.state, &expected, STATE_ON);
}

// The IFUNC: ld.so calls the resolver while relocating this object, before any constructor runs.
static void early_anchor_impl(void) {}
__attribute__((used)) static void (*resolve_early_anchor(void))(void) {
  install();
  return early_anchor_impl;
}
void nala_cpuid_mask_early_anchor(void) __attribute__((ifunc("resolve_early_anchor")));
// A relocation against the IFUNC, so that ld.so has to resolve it at load time.
void (*volatile nala_cpuid_mask_anchor_ref)(void) = nala_cpuid_mask_early_anchor;

static int verbose(void) {
  const char *v = getenv("NALA_CPUID_MASK_VERBOSE");
  return v && *v && strcmp(v, "0") != 0;
}

static int thread_count(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (!d)
    return -1;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

__attribute__((constructor)) static void on_load(void) {
  install();  // in case the IFUNC was resolved some other way
  int state = atomic_load(&g_mask.state);
  if (state != STATE_ON) {
    fprintf(stderr, "cpuid_mask: CPUID faulting unavailable (arch_prctl ARCH_SET_CPUID: %s): the CPU is NOT masked\n",
            strerror(g_mask.arch_prctl_errno));
    return;
  }
  int threads = thread_count();
  if (threads > 1)  // the others kept real CPUID: say so rather than half-mask
    fprintf(stderr, "cpuid_mask: %d threads already running when loaded: only this one is masked\n", threads);
  if (verbose())
    fprintf(stderr, "cpuid_mask: pid %d: CPUID faulting on, AVX-512/AMX/AVX-VNNI hidden\n", (int)getpid());
}

__attribute__((destructor)) static void on_exit_report(void) {
  if (atomic_load(&g_mask.state) != STATE_ON)
    return;
  struct kernel_sigaction now = {0};
  raw_syscall4(SYS_rt_sigaction, SIGSEGV, 0, (long)&now, sizeof now.mask);
  if (now.handler != (void *)on_segv)
    fprintf(stderr, "cpuid_mask: pid %d: our SIGSEGV handler was replaced behind sigaction(): CPUIDs after that "
            "were not emulated\n", (int)getpid());
  if (verbose()) {
    app_lock();
    int app_handler = (g_mask.app_segv.sa_flags & SA_SIGINFO) || (g_mask.app_segv.sa_handler != SIG_DFL);
    app_unlock();
    fprintf(stderr, "cpuid_mask: pid %d: %lu CPUIDs emulated, %lu other SIGSEGVs chained (SIGSEGV at exit: %s)\n", (int)getpid(),
            atomic_load(&g_mask.emulated), atomic_load(&g_mask.chained),
            app_handler ? "the program's handler" : "default");
  }
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  static _Atomic(sigaction_fn) next;  // resolved once; dlsym before our constructor is fine
  sigaction_fn fn = atomic_load(&next);
  if (!fn) {
    fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    if (!fn) {
      errno = ENOSYS;
      return -1;
    }
    atomic_store(&next, fn);
  }
  return fn(sig, act, old);
}

// The program's view of SIGSEGV is g_mask.app_segv while we are on; everything else passes through.
int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict old) {
  if (sig != SIGSEGV || atomic_load(&g_mask.state) != STATE_ON)
    return real_sigaction(sig, act, old);
  // The caller's pointers are read and written outside the lock: a bad one faults there, into
  // chain(), which takes the lock too.
  struct sigaction next, prev;
  if (act)
    next = *act;
  app_lock();
  prev = g_mask.app_segv;
  if (act)
    g_mask.app_segv = next;
  app_unlock();
  if (old)
    *old = prev;
  return 0;
}

// glibc's signal() calls its internal sigaction, not ours: interpose it too (BSD semantics).
sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  sigaddset(&act.sa_mask, sig);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0)
    return SIG_ERR;
  return old.sa_handler;
}
