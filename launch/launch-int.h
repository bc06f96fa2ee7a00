/*
 * Internals of the launch module, shared between its .c files only.
 */
#ifndef STRATA_LAUNCH_LAUNCH_INT_H
#define STRATA_LAUNCH_LAUNCH_INT_H

#include "launch/launch.h"

/* ---- config.c ---- */

/* Frees @n devices and the array. */
void launch_devices_free(struct launch_device *devs, size_t n);

/* ---- caps.c ---- */

/* Capability number of @name ("NET_ADMIN" or "CAP_NET_ADMIN", any case); -1 if unknown. */
int caps_from_name(const char *name);

/* The name of capability @cap ("CAP_NET_ADMIN"), or NULL. */
const char *caps_name(int cap);

/* The capability set of a spec: the defaults with cap_add/cap_drop applied, as a bit mask. */
int caps_mask(char *const *add, char *const *drop, uint64_t *mask, struct strata_error **err);

/* Drops what is not in @mask from the bounding set and clears the ambient set (needs CAP_SETPCAP). */
int caps_drop_bounding(uint64_t mask, struct strata_error **err);

/* Keeps only @mask in the permitted, effective and inheritable sets (after setuid). */
int caps_apply(uint64_t mask, struct strata_error **err);

/* Loads the default seccomp filter (Docker's denials, EPERM). */
int seccomp_load_default(struct strata_error **err);

/* The syscalls the default filter denies (NULL-terminated), for bundles. */
extern const char *const seccomp_denied[];

/* ---- user.c ---- */

/* Resolves "uid[:gid]" or "name[:group]" against @rootfd's /etc/passwd and /etc/group. */
int user_resolve(int rootfd, const char *spec, uid_t *uid, gid_t *gid, gid_t **groups,
		 size_t *n_groups, char **home, struct strata_error **err);

/* ---- tty.c ---- */

/* Opens a pseudo-terminal pair (close-on-exec), sized like this process's terminal. */
int tty_open(int *master, int *slave, struct strata_error **err);

/* In the child: a new session with @slave as controlling terminal and stdio. -1 on failure. */
int tty_attach(int slave);

/* Copies stdio to and from @master until @pid has ended; returns its exit status. */
int tty_relay_wait(pid_t pid, int master, bool forward_signals);

#endif
