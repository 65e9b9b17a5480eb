/*
 * The probe: where a check's child is, in memory it shares with the
 * parent. A child that crashes or hangs never sends its result, so without
 * this the parent could only say "killed by signal 11". With it, the
 * parent names the callback, the case (tick, snapshot shape), the call
 * times so far and, for a crash, the faulting function: a handler for the
 * fatal signals records the faulting address (or the first frame inside
 * the plugin, for an abort) and lets the signal kill the child as before.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include "conform.h"

conform_probe *hydra_conform_probe_area;

static const void *g_plugin_base;
static char g_alt_stack[64 * 1024];

int hydra_conform_probe_map(void)
{
    void *p = mmap(NULL, sizeof(conform_probe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    hydra_conform_probe_area = p;
    return 0;
}

static double mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void hydra_conform_probe_enter(const char *callback, const char *where, int timed)
{
    conform_probe *p = hydra_conform_probe_area;
    if (p == NULL)
        return;
    snprintf(p->callback, sizeof p->callback, "%s", callback);
    snprintf(p->where, sizeof p->where, "%s", where);
    if (timed) {
        p->call_start_ns = mono_ns();
        p->in_call = 1;
    }
}

void hydra_conform_probe_leave(int timed)
{
    conform_probe *p = hydra_conform_probe_area;
    if (p == NULL || !timed)
        return;
    double ns = mono_ns() - p->call_start_ns;
    p->in_call = 0;
    if (p->n_times < CONFORM_PROBE_TIMES)
        p->times_ns[p->n_times] = ns;
    p->n_times++;
}

/* The address that faulted, from the signal's context. */
static const void *fault_pc(const ucontext_t *uc)
{
#if defined(__x86_64__)
    return (const void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (const void *)uc->uc_mcontext.pc;
#else
    (void)uc;
    return NULL;
#endif
}

static void record(conform_probe *p, const void *pc)
{
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (pc == NULL || dladdr(pc, &info) == 0 || info.dli_fbase == NULL)
        return;
    p->fault_offset = (uint64_t)((const char *)pc - (const char *)info.dli_fbase);
    snprintf(p->fault_object, sizeof p->fault_object, "%s", info.dli_fname ? info.dli_fname : "?");
    snprintf(p->fault_symbol, sizeof p->fault_symbol, "%s", info.dli_sname ? info.dli_sname : "");
}

/*
 * Not async-signal-safe in the strict sense (dladdr, backtrace): the child
 * is dying anyway, the parent only reads what got written, and backtrace
 * was warmed up before so it does not load anything here.
 */
static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
    conform_probe *p = hydra_conform_probe_area;
    (void)si;
    if (p != NULL && p->fault_sig == 0) {
        const void *pc = fault_pc(ctx);
        Dl_info info;
        p->fault_sig = sig;
        /* The plugin's own frame when the fault is in a library it called (abort, a bad free). */
        if (pc == NULL || dladdr(pc, &info) == 0 || info.dli_fbase != g_plugin_base) {
            void *frames[32];
            int n = backtrace(frames, 32);
            for (int i = 0; i < n; i++)
                if (dladdr(frames[i], &info) != 0 && info.dli_fbase == g_plugin_base) {
                    /* A return address: the call instruction is just before it. */
                    pc = (const char *)frames[i] - 1;
                    break;
                }
        }
        record(p, pc);
    }
    /* SA_RESETHAND: the fault repeats (or abort raises again) and kills the child as before. */
}

void hydra_conform_probe_catch_faults(const void *plugin_address)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP};
    Dl_info info;
    void *warm[2];
    stack_t ss = {.ss_sp = g_alt_stack, .ss_size = sizeof g_alt_stack, .ss_flags = 0};
    struct sigaction sa;

    if (hydra_conform_probe_area == NULL || dladdr(plugin_address, &info) == 0)
        return;
    g_plugin_base = info.dli_fbase;
    backtrace(warm, 2);
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

void hydra_conform_probe_times(const conform_probe *p, char *out, size_t outsz)
{
    uint32_t n = p->n_times < CONFORM_PROBE_TIMES ? p->n_times : CONFORM_PROBE_TIMES;
    double *v;
    if (n == 0 || (v = malloc(n * sizeof *v)) == NULL) {
        snprintf(out, outsz, "no call had finished");
        return;
    }
    memcpy(v, p->times_ns, n * sizeof *v);
    qsort(v, n, sizeof *v, cmp_double);
    snprintf(out, outsz, "%u call%s before it: median %.3f ms, p99 %.3f ms, max %.3f ms",
             (unsigned)p->n_times, p->n_times == 1 ? "" : "s", v[n / 2] / 1e6,
             v[(size_t)((double)(n - 1) * 0.99)] / 1e6, v[n - 1] / 1e6);
    free(v);
}

void hydra_conform_probe_fault(const conform_probe *p, char *out, size_t outsz)
{
    char sym[160];
    const char *base = strrchr(p->fault_object, '/');
    base = base != NULL ? base + 1 : p->fault_object;
    if (p->fault_object[0] == '\0') {
        snprintf(out, outsz, "an unknown address");
        return;
    }
    if (hydra_conform_symbolize(p->fault_object, p->fault_offset, sym, sizeof sym) == 0)
        snprintf(out, outsz, "%s in %s", sym, base);
    else if (p->fault_symbol[0] != '\0')
        snprintf(out, outsz, "%s in %s", p->fault_symbol, base);
    else
        snprintf(out, outsz, "%s+0x%llx (no symbols)", base, (unsigned long long)p->fault_offset);
}
