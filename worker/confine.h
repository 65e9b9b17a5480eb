/*
 * The worker's own layers, installed by the worker binary on itself before
 * it loads the plugin, so that no plugin code (an ELF constructor, create(),
 * a thread either of them starts) ever runs outside them:
 *
 *   1. Landlock: reads only beneath the directories the worker needs (the
 *      system libraries, the plugin's directory, three device nodes), no
 *      writes, no exec anywhere, no TCP bind or connect (ABI 4), no signals
 *      to processes outside the worker and no abstract UNIX sockets (ABI 6).
 *      Independent of the mount namespace the host put the worker in.
 *   2. seccomp, stage one: an allow-list for loading a shared object and
 *      running the callbacks; anything else kills the process (SIGSYS),
 *      on every thread (TSYNC).
 *   3. seccomp, stage two, after create(): no more opening files (EACCES)
 *      and no new executable memory (kills).
 */
#ifndef HYDRA_CONFINE_H
#define HYDRA_CONFINE_H

#include <stddef.h>

/*
 * Landlock over the plugin directory `plugin_dir`. Returns the kernel's
 * ABI version (> 0) when installed, or negative with why.
 */
int hydra_confine_landlock(const char *plugin_dir, char *why, size_t whysz);

/* Stage one and stage two of the seccomp filter. 0, or negative with why. */
int hydra_confine_seccomp_load(int sock_fd, char *why, size_t whysz);
int hydra_confine_seccomp_run(char *why, size_t whysz);

#endif
