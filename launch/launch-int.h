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


/* Drops what is not in @mask from the bounding set and clears the ambient set (needs CAP_SETPCAP). */
int caps_drop_bounding(uint64_t mask, struct strata_error **err);

/* Keeps only @mask in the permitted, effective and inheritable sets (after setuid). */
int caps_apply(uint64_t mask, struct strata_error **err);

/* ---- seccomp.c ---- */

/* Loads the seccomp filter of a container that keeps capabilities @caps (a mask). */
int launch_seccomp_load(uint64_t caps, struct strata_error **err);

/* True when, for @caps, clone3 is ENOSYS and clone with namespace flags EPERM (no SYS_ADMIN). */
bool launch_seccomp_limits_clone(uint64_t caps);

/* The same filter as the OCI runtime spec's linux.seccomp object. */
json_t *launch_seccomp_oci(uint64_t caps);

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
