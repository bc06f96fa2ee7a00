/*
 * Internals of the launch module, shared between its .c files only.
 */
#ifndef STRATA_LAUNCH_LAUNCH_INT_H
#define STRATA_LAUNCH_LAUNCH_INT_H

#include <signal.h>

#include "launch/launch.h"

/* ---- config.c ---- */

/* Frees @n devices and the array. */
void launch_devices_free(struct launch_device *devs, size_t n);

/* ---- caps.c ---- */

/* Capability number of @name ("NET_ADMIN" or "CAP_NET_ADMIN", any case); -1 if unknown. */
int launch_caps_from_name(const char *name);

/* The name of capability @cap ("CAP_NET_ADMIN"), or NULL. */
const char *launch_caps_name(int cap);

/* Drops what is not in @mask from the bounding set and clears the ambient set (needs CAP_SETPCAP). */
int launch_caps_drop_bounding(uint64_t mask, struct strata_error **err);

/* Keeps only @mask in the permitted, effective and inheritable sets (after setuid). */
int launch_caps_apply(uint64_t mask, struct strata_error **err);

/* ---- seccomp.c ---- */

/* Loads the seccomp filter of a container that keeps capabilities @caps (a mask). */
int launch_seccomp_load(uint64_t caps, struct strata_error **err);

/* True when, for @caps, clone3 is ENOSYS and clone with namespace flags EPERM (no SYS_ADMIN). */
bool launch_seccomp_limits_clone(uint64_t caps);

/* The same filter as the OCI runtime spec's linux.seccomp object. */
json_t *launch_seccomp_oci(uint64_t caps);

/* ---- user.c ---- */

/* Resolves "uid[:gid]" or "name[:group]" against @rootfd's /etc/passwd and /etc/group. */
int launch_user_resolve(int rootfd, const char *spec, uid_t *uid, gid_t *gid, gid_t **groups,
			size_t *n_groups, char **home, struct strata_error **err);

/* ---- init.c: the init of --init ---- */

/* A sealed memfd (close-on-exec, above fd 3) holding the static init program. */
int launch_init_open(struct strata_error **err);

/*
 * Executes the init from @init_fd as `init -- ARGV...` with @env, handing
 * it @err_fd as fd 3; returns only on failure.
 */
int launch_init_exec(int init_fd, char *const *argv, char *const *env, int err_fd,
		     struct strata_error **err);

/* ---- attach.c: the monitor's side of attach ---- */

/* Listens on the attach socket of the container directory @dirfd; returns the socket. */
int launch_attach_listen(int dirfd, struct strata_error **err);

/* The monitor's relay between a container's terminal, its log and the attached clients. */
struct attach_server;

/* A relay for @master (the pty), @log_fd (may be -1) and @listen_fd; keeps no fd of its own. */
struct attach_server *launch_attach_server_new(int master, int log_fd, int listen_fd);

/* True when container record @rec was made with a terminal (-t). */
bool launch_container_has_tty(const json_t *rec);

/* Waits up to @timeout_ms for a first client, before any output is read. */
void launch_attach_server_accept(struct attach_server *srv, int timeout_ms);

/*
 * Until @pid has ended: its terminal's output to the log and to every
 * client, their input and window sizes to it; returns its exit status.
 */
int launch_attach_server_run(struct attach_server *srv, pid_t pid);

/* Sends @code to each client as the last message, closes them, frees @srv. NULL is fine. */
void launch_attach_server_end(struct attach_server *srv, int code);

/* ---- tty.c ---- */

/*
 * Opens a pseudo-terminal in the devpts of this process's root
 * (/dev/pts/ptmx, checked to be a ptmx) and its terminal side (TIOCGPTPEER),
 * both close-on-exec.
 */
int launch_tty_open_in_root(int *master, int *slave, struct strata_error **err);

/* A new session (when not a leader yet) with @slave as controlling terminal and stdio. */
int launch_tty_take(int slave, struct strata_error **err);

/* Sends @fd over unix socket @sock (SCM_RIGHTS, one byte of data). */
int launch_tty_send_fd(int sock, int fd, struct strata_error **err);

/* Receives an fd sent by launch_tty_send_fd (close-on-exec); -1 on EOF or error. */
int launch_tty_recv_fd(int sock, struct strata_error **err);

/* Gives @master the window size of the terminal @from, when it is one. */
void launch_tty_size_copy(int from, int master);

/*
 * With @forward, blocks the signals launch_wait forwards (TERM, INT, HUP,
 * QUIT, USR1, USR2) until launch_signals_release: one that comes between
 * the start of a container and the wait for it stays pending and is then
 * forwarded, instead of killing the launcher and leaving the container
 * behind. The processes that become the container unblock them.
 */
void launch_signals_hold(bool forward, sigset_t *old);

/* Restores the mask launch_signals_hold saved in @old (with @forward). */
void launch_signals_release(bool forward, const sigset_t *old);

/* Copies stdio to and from @master until @pid has ended; returns its exit status. */
int launch_tty_relay_wait(pid_t pid, int master, bool forward_signals);

#endif
