/*
 * launch: running processes in containers. A process gets new mount, PID,
 * UTS, IPC, cgroup (and, unless the host network is asked for, network)
 * namespaces, the merged rootfs with /proc, /sys, a tmpfs /dev and the
 * OCI runtime's masked and read-only paths, pivot_root, reduced
 * capabilities, a seccomp filter, and a cgroup (v1 or v2) with its limits.
 * Container lifecycle (run, start, stop, kill, exec, wait, logs, stats,
 * freeze for commit) and OCI runtime bundles build on it.
 */
#ifndef STRATA_LAUNCH_LAUNCH_H
#define STRATA_LAUNCH_LAUNCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"
#include "store/store.h"
#include "overlay/overlay.h"
#include "procview/procview.h"

/* ---- devices.c: the device policy ---- */

/* Access bits of a device rule (the kernel's BPF_DEVCG_ACC_* values). */
enum launch_dev_access {
	LAUNCH_DEV_MKNOD = 1 << 0,
	LAUNCH_DEV_READ = 1 << 1,
	LAUNCH_DEV_WRITE = 1 << 2,
};

/* One allow rule: @type 'c', 'b' or 'a' (both); -1 for any major or minor. */
struct launch_device_rule {
	char type;
	int64_t major, minor;
	unsigned access;
};

/* A host device given to a container (--device HOST[:CONTAINER][:rwm]). */
struct launch_device {
	char *source;	   /* host path of the node */
	char *destination; /* path inside the container */
	unsigned access;   /* enum launch_dev_access bits */
};

/* Parses "HOST[:CONTAINER][:rwm]" into @dev (its strings the caller's); EINVAL when malformed. */
int launch_device_parse(const char *arg, struct launch_device *dev, struct strata_error **err);

/* Parses "rwm", "r", "rw"... into access bits; -1 when empty or not made of r, w, m once each. */
int launch_device_access_parse(const char *s, unsigned *access);

/* The access bits as "rwm" letters. Caller frees. */
char *launch_device_access_string(unsigned access);

/*
 * A container's device policy: the default set (null, zero, full, random,
 * urandom, tty, console, ptmx, pts/N; mknod of any node) and @devs, whose
 * type and numbers are read from the host. *out is the caller's to free.
 */
int launch_device_rules(const struct launch_device *devs, size_t n_devs,
			struct launch_device_rule **out, size_t *n_out, struct strata_error **err);

/* The rule as a v1 devices.allow line ("c 1:3 rwm", "b *:* m"). Caller frees. */
char *launch_device_rule_string(const struct launch_device_rule *r);

/* cgroup v1: "a" to @dir's devices.deny, then each rule to devices.allow. */
int launch_device_v1_write(const char *dir, const struct launch_device_rule *rules, size_t n,
			   struct strata_error **err);

struct bpf_insn;

/*
 * The BPF_PROG_TYPE_CGROUP_DEVICE program that allows what @rules allow
 * and denies the rest; its length in *len. Caller frees.
 */
struct bpf_insn *launch_device_bpf(const struct launch_device_rule *rules, size_t n, size_t *len);

/* cgroup v2: loads that program and attaches it (BPF_CGROUP_DEVICE) to cgroup dir @cgroup_fd. */
int launch_device_bpf_attach(int cgroup_fd, const struct launch_device_rule *rules, size_t n,
			     struct strata_error **err);

/* ---- cgroup.c ---- */

/* Resource limits; 0 (or NULL) means none. */
struct launch_limits {
	int64_t memory;	     /* bytes */
	int64_t memory_swap; /* memory + swap bytes; -1: unlimited swap */
	int64_t cpu_quota;   /* microseconds per period (--cpus 0.5 -> 50000) */
	int64_t cpu_period;  /* microseconds; 0: 100000 */
	int64_t cpu_shares;  /* v1 shares (2..262144); v2 weight derived */
	int64_t pids;	     /* maximum number of tasks */
	const char *cpuset;  /* "0-1" */
	const struct launch_device *devices; /* allowed beyond the default set */
	size_t n_devices;
	bool io_stats; /* v1: a blkio cgroup that counts I/O per disk (the /proc view's diskstats) */
};

/* A container's cgroup: one directory per v1 controller, or one v2 directory. */
struct launch_cgroup;

/* How the cgroup tree at @mnt is organised: 2 (unified), 1 (legacy or hybrid), 0 (none). */
int launch_cgroup_version(const char *mnt);

/* "v2", "v1" or "v1 (hybrid)" for /sys/fs/cgroup; "none" when there is none. */
const char *launch_cgroup_mode(void);

/*
 * Makes the cgroup @name under the cgroup this process is in (read from
 * @self_file, normally /proc/self/cgroup) in the tree at @mnt (normally
 * /sys/fs/cgroup), of @version (0: detect), and writes @limits.
 */
int launch_cgroup_create(const char *mnt, int version, const char *self_file, const char *name,
			 const struct launch_limits *limits, struct launch_cgroup **out,
			 struct strata_error **err);

/* The cgroup's directories as JSON ({"unified": path} or {"memory": path, ...}). */
json_t *launch_cgroup_to_json(const struct launch_cgroup *cg);

/* Rebuilds a cgroup handle from launch_cgroup_to_json's output. */
struct launch_cgroup *launch_cgroup_from_json(const json_t *j);

/* Moves process @pid into the cgroup. */
int launch_cgroup_add(struct launch_cgroup *cg, pid_t pid, struct strata_error **err);

/*
 * The @i-th directory of @cg (0, 1, ... until false): *name is the v1
 * controller ("memory", "cpu", ...) or "" for the one v2 directory.
 */
bool launch_cgroup_dir(const struct launch_cgroup *cg, size_t i, const char **name,
		       const char **dir);

/*
 * An fd (O_CLOEXEC) on the cgroup v2 directory of @cg, to start a process in
 * it with clone3's CLONE_INTO_CGROUP; -1 when @cg has none (v1, hybrid) or
 * it is not on a cgroup2 filesystem (a test's fake tree). Caller closes it.
 */
int launch_cgroup_v2_fd(const struct launch_cgroup *cg);

/* Freezes (@frozen) or thaws every process of the cgroup, waiting until it is done. */
int launch_cgroup_freeze(struct launch_cgroup *cg, bool frozen, struct strata_error **err);

struct launch_stats {
	uint64_t memory;    /* bytes in use */
	uint64_t memory_max; /* 0: none */
	uint64_t cpu_usec;  /* CPU time used */
	uint64_t pids;	    /* tasks */
};

/* Reads the cgroup's usage. */
int launch_cgroup_stats(struct launch_cgroup *cg, struct launch_stats *st,
			struct strata_error **err);

/* Kills what is left in the cgroup and removes its directories; frees @cg. NULL is fine. */
void launch_cgroup_destroy(struct launch_cgroup *cg);

/*
 * Removes the cgroup dirs of build RUN steps ("build-PID-N", made beside a
 * container's under this process's cgroup, from @self_file) whose build
 * process is gone, killing what is left in them; returns how many, per
 * hierarchy.
 */
size_t launch_cgroup_remove_dead_builds(const char *mnt, const char *self_file);

/* Frees @cg without touching the directories. NULL is fine. */
void launch_cgroup_free(struct launch_cgroup *cg);

/*
 * As launch_cgroup_create, for a caller that may not own the cgroup tree:
 * with @host_root the same; otherwise the cgroup is made only under this
 * process's own cgroup when that is a v2 cgroup it may write (delegated,
 * as systemd gives user sessions). Without one *out is NULL, or, when
 * @limits ask for anything, EPERM saying that limits need root or a
 * delegated cgroup.
 */
int launch_cgroup_open(const char *mnt, const char *self_file, const char *name,
		       const struct launch_limits *limits, bool host_root,
		       struct launch_cgroup **out, struct strata_error **err);

/* True when @limits ask for any limit. */
bool launch_limits_any(const struct launch_limits *limits);

/* ---- userns.c: user namespaces without root ---- */

/* @count ids from @inside (in the namespace) onto @outside (in its parent). */
struct launch_idrange {
	unsigned inside, outside, count;
};

/* A namespace's uid and gid maps: the caller's own id at 0, then its subordinate ranges. */
struct launch_idmap {
	uid_t uid_self;
	gid_t gid_self;
	struct launch_idrange *uid, *gid;
	size_t n_uid, n_gid; /* 1: only the caller is mapped */
};

/* One line of a uid_map or gid_map: @count ids from @inside map onto @outside. Caller frees. */
char *launch_idmap_line(unsigned inside, unsigned outside, unsigned count);

/*
 * The ranges of /etc/subuid-format @text ("NAME|UID:START:COUNT" lines)
 * for the user @name or @id, in file order, into *out (caller frees).
 * Returns how many lines did not parse (skipped).
 */
int launch_subid_parse(const char *text, const char *name, unsigned long id,
		       struct launch_idrange **out, size_t *n);

/*
 * The ranges of shadow's `getsubids` output @text ("INDEX: NAME START
 * COUNT" lines) into *out (caller frees). Returns how many lines did not parse.
 */
int launch_getsubids_parse(const char *text, struct launch_idrange **out, size_t *n);

/*
 * The caller's map: its uid and gid at 0, then its ranges of /etc/subuid
 * and /etc/subgid (of getsubids where nsswitch.conf names a "subid:"
 * source) from 1 on; only itself when either has none.
 */
void launch_idmap_caller(struct launch_idmap *m);

/* Frees the ranges of @m. */
void launch_idmap_release(struct launch_idmap *m);

/* "IN:OUT:COUNT,..." of @n ranges (the store's record of its map). Caller frees. */
char *launch_idmap_text(const struct launch_idrange *r, size_t n);

/* True when errno @e from clone or unshare of a user namespace means this user may not have one. */
bool launch_userns_refused(int e);

/*
 * Maps @uid and @gid to root in the new user namespace of process @pid (0:
 * this process): "deny" to setgroups, then uid_map "0 UID 1" and gid_map
 * "0 GID 1".
 */
int launch_userns_map(pid_t pid, uid_t uid, gid_t gid, struct strata_error **err);

/* Maps, in the new user namespace of @pid, every id of this process's namespace onto itself. */
int launch_userns_map_identity(pid_t pid, struct strata_error **err);

/* As root of this namespace, writes @m as the uid_map and gid_map of @pid's new user namespace. */
int launch_userns_map_ranges(pid_t pid, const struct idmap *m, struct strata_error **err);

/*
 * Moves this process into a new user namespace mapped by @m (its ranges
 * through newuidmap and newgidmap; NULL or a single id: the caller's own
 * ids written directly) where it is root, and a new mount namespace with
 * every mount private: mounts made afterwards are seen only here and go
 * with the process. Must be called while single-threaded.
 */
int launch_userns_enter(const struct launch_idmap *m, struct strata_error **err);

/* ---- spawn.c: one process in a container ---- */

struct launch_mount {
	char *source;	   /* host path (bind) or NULL (tmpfs) */
	char *destination; /* path inside the container */
	bool readonly;
	bool tmpfs;
	uint64_t tmpfs_size; /* tmpfs: its size limit in bytes; 0: the kernel's default (half of RAM) */
	unsigned tmpfs_mode; /* tmpfs: the mode of its root; 0: 1777 */
	char *volume;	     /* a named volume ("": one to make, anonymous); @source is its _data */
	bool anonymous;	     /* a volume made for this container: rm -v and run --rm remove it */
	bool nocopy;	     /* the volume is not filled from the image's content at @destination */
	bool chown;	     /* :U: the source's tree is given to the container's user at start */
	unsigned long propagation; /* a bind: MS_SHARED or MS_SLAVE (| MS_REC); 0: private */
};

struct launch_spec {
	char **argv;	     /* the process (argv[0] looked up in the container's PATH) */
	char **env;	     /* KEY=VALUE */
	const char *cwd;     /* inside the container; made when missing; NULL: "/" */
	const char *user;    /* "uid[:gid]" or "name[:group]" (from the rootfs's files); NULL: root */
	const char *hostname;
	bool host_network;   /* false: a new network namespace with lo up */
	bool readonly_rootfs;
	struct launch_mount *mounts;
	size_t n_mounts;
	struct launch_device *devices; /* host device nodes bound in (and allowed by the cgroup) */
	size_t n_devices;
	const char *hosts_file;	 /* host files bound onto /etc/hosts, ... (may be NULL) */
	const char *resolv_file;
	const char *hostname_file;
	char **cap_add, **cap_drop; /* "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL" */
	bool no_seccomp;
	bool no_new_privs;
	bool init;	       /* a reaper as PID 1 */
	int stdin_fd;	       /* -1: /dev/null */
	int stdout_fd, stderr_fd;
	struct launch_cgroup *cgroup; /* joined before exec, or NULL */
	const char *rootfs_backend;   /* with rootfs_stack: mounted by the container process */
	const struct overlay_stack *rootfs_stack; /* a rootless overlay, mounted in its namespaces */
	bool forward_signals;	      /* forward TERM, INT, HUP, QUIT, USR1, USR2 to the process */
	bool die_with_parent;	      /* SIGKILL (PR_SET_PDEATHSIG) once the caller dies: a build's RUN */
	bool tty;		      /* a pty of the container's devpts as stdio and controlling terminal */
	/*
	 * Non-NULL: the container gets its own /proc view (procview/), bound
	 * over /proc/meminfo and the others before exec, from @cgroup; its
	 * server is set here (NULL, after a warning, when FUSE cannot be
	 * mounted), for the caller to free once the container has ended.
	 */
	struct procview_server **proc_view;
	unsigned short tty_rows, tty_cols; /* its first size; 0: that of our stdin's terminal */
	/*
	 * Non-NULL: the container gets a user namespace of its own with this
	 * map (its ids onto this namespace's), written by this process.
	 */
	struct idmap *idmap;
	char *passwd_entry, *group_entry; /* added to /etc/passwd and /etc/group when missing */
};

/* The capabilities a container gets by default (Docker's set), as names. */
extern const char *const launch_default_caps[];

/*
 * The capability set of a container: the defaults with @add, then @drop
 * applied ("ALL" in either), as a mask of CAP_* bits; EINVAL for an unknown name.
 */
int launch_caps_mask(char *const *add, char *const *drop, uint64_t *mask,
		     struct strata_error **err);

/*
 * The syscalls the seccomp filter denies (EPERM) to a container that keeps
 * capabilities @caps (a mask of CAP_* bits): Docker's default profile's
 * table, a capability opening the syscalls only it makes useful. Caller frees.
 */
char **launch_seccomp_denied(uint64_t caps);

/*
 * Starts @spec in @rootfs (a directory, typically a merged mount). Without
 * root the process also gets a user namespace where the caller is root
 * (uid_map "0 UID 1"); when the kernel refuses one, the error says that
 * user namespaces are not available to this user. Sets
 * *pid to the container's PID 1 (as seen from here) once it has exec'd.
 * With spec->tty, PID 1's stdio and controlling terminal are a pty of the
 * container's devpts, whose master (sized like our stdin's terminal) the
 * caller gets in *tty_master and closes; otherwise *tty_master is -1
 * (@tty_master may be NULL without spec->tty).
 * Errors in the container before exec come back as the error here.
 */
int launch_spawn(const char *rootfs, const struct launch_spec *spec, pid_t *pid, int *tty_master,
		 struct strata_error **err);

/*
 * Waits for @pid (from launch_spawn), forwarding signals when asked, and
 * returns its exit status: the code, or 128+N for signal N.
 */
int launch_wait(pid_t pid, bool forward_signals);

/*
 * launch_spawn + launch_wait: runs @spec to the end; the status in *status.
 * With spec->tty the process gets a pseudo-terminal whose other end is
 * relayed to this process's stdin and stdout (raw mode, window size kept).
 */
int launch_run(const char *rootfs, const struct launch_spec *spec, int *status,
	       struct strata_error **err);

/*
 * Runs @argv in the namespaces of the running container process @pid (and
 * its cgroup @cg when not NULL), with @spec's env, cwd and user; returns the
 * exit status as launch_run.
 */
int launch_exec(pid_t pid, struct launch_cgroup *cg, const struct launch_spec *spec, int *status,
		struct strata_error **err);

/* ---- config.c: a container's run options ---- */

/*
 * What run, create and bundle were asked for beyond the image's config,
 * kept in the container's record. Every pointer is owned (setters copy);
 * zero means unset. launch_run_config_release frees it.
 */
struct launch_run_config {
	char **entrypoint;    /* with has_entrypoint: replaces the image's (and its Cmd) */
	bool has_entrypoint;
	char **env;	      /* KEY=VALUE over the image's Env */
	char *workdir, *user, *hostname;
	/* keep-id: the lines added to the container's /etc/passwd and /etc/group when it lacks them */
	char *passwd_entry, *group_entry;
	char *stop_signal;    /* a name or number launch_signal_parse takes */
	bool host_network, readonly_rootfs, no_seccomp, no_new_privs, init;
	bool auto_remove, interactive, tty;
	bool no_proc_view;    /* --proc-view=false: the host's /proc files */
	char **cap_add, **cap_drop;
	struct launch_mount *mounts;
	size_t n_mounts;
	struct launch_device *devices; /* --device */
	size_t n_devices;
	struct launch_limits limits; /* limits.cpuset owned; limits.devices unused */
};

/* Adds host device @dev (its strings copied). */
void launch_run_config_add_device(struct launch_run_config *rc, const struct launch_device *dev);

/*
 * Adds a bind of host @source (absolute), or a tmpfs when @source is NULL, at
 * @destination; returns the new entry (valid until the next one is added).
 */
struct launch_mount *launch_run_config_add_mount(struct launch_run_config *rc, const char *source,
						 const char *destination, bool readonly);

/* Adds volume @name ("": an anonymous one, made by launch_run_config_volumes) at @destination. */
struct launch_mount *launch_run_config_add_volume(struct launch_run_config *rc, const char *name,
						  const char *destination, bool readonly);

/* EINVAL (with what is wrong) unless @rc can be run: limits, mounts, signal, capabilities. */
int launch_run_config_check(const struct launch_run_config *rc, struct strata_error **err);

/* Checks @rc and stores it in container record @rec (its "RunConfig"). */
int launch_run_config_put(json_t *rec, const struct launch_run_config *rc,
			  struct strata_error **err);

/* Fills @rc from container record @rec (unset when it has none); release it after. */
void launch_run_config_get(const json_t *rec, struct launch_run_config *rc);

/* Frees what @rc holds and zeroes it. */
void launch_run_config_release(struct launch_run_config *rc);

/* ---- volume.c: named and anonymous volumes of a container ---- */

/*
 * Gives @rc's volume mounts their volumes: a named one is made on first
 * use, an anonymous one ("") gets a new volume, and each VOLUME of image
 * config @image_config (its "config" object's "Volumes"; may be NULL) that
 * no mount covers gets an anonymous one, as podman does. Sets each
 * mount's source to its volume's data dir. The anonymous volumes made are
 * added to *made (caller frees; set on failure too), for
 * launch_volumes_remove on failure. The caller holds store_users_lock()
 * shared from before this until the container's record is saved.
 */
int launch_run_config_volumes(struct store *s, struct launch_run_config *rc,
			      const json_t *image_config, char ***made, struct strata_error **err);

/*
 * Before @spec's mounts are made in rootfs @rootfd: fills each volume that
 * still needs it (new and empty, not nocopy) with the content at its
 * destination in the rootfs, owners and modes kept, as podman's copy-up
 * (once per volume); then gives the tree of each :U mount's source to the
 * container's user.
 */
int launch_mounts_prepare(struct store *s, const struct launch_spec *spec, int rootfd,
			  struct strata_error **err);

/*
 * Checks `volume create -o KEY=VALUE` options as podman's local driver
 * takes them (type=, device=, o= with uid= and gid=, copy, nocopy) into
 * the record's Options (o=uid=,gid= also as "UID", "GID"). EINVAL with why.
 */
int launch_volume_options_parse(char *const *opts, json_t **out, struct strata_error **err);

/* True when a volume with @options is mounted when used (it has a type=). */
bool launch_volume_needs_mount(const json_t *options);

/*
 * Mounts the volumes of @spec that have mount options on their data dirs
 * (when not mounted yet) and holds them for the container's life: *held
 * (one fd per mount, -1 for none) goes to launch_volumes_unmount when it ends.
 */
int launch_volumes_mount(struct store *s, const struct launch_spec *spec, int **held,
			 struct strata_error **err);

/* Lets go of *@held (freed, set to NULL) and unmounts each volume no other container holds. */
void launch_volumes_unmount(struct store *s, const struct launch_spec *spec, int **held);

/* True when @spec has mounts launch_mounts_prepare has work for. */
bool launch_mounts_need_prepare(const struct launch_spec *spec);

/* Removes the anonymous volumes of container record @rec (those not used elsewhere). */
void launch_volumes_remove_anonymous(struct store *s, const json_t *rec);

/*
 * Parses a propagation name (private, rprivate, shared, rshared, slave,
 * rslave) into MS_* flags; private ones give 0 (every mount is private). -1 when unknown.
 */
int launch_propagation_parse(const char *name, unsigned long *flags);

/* The name of propagation @flags ("rprivate" for 0). */
const char *launch_propagation_name(unsigned long flags);

/*
 * EINVAL (saying so) unless the host mount holding @path can give what
 * @flags asks: shared for MS_SHARED, shared or a slave for MS_SLAVE (as runc).
 */
int launch_propagation_check(const char *path, unsigned long flags, struct strata_error **err);

/* Removes volumes @names, ignoring errors (a failed create's anonymous volumes). */
void launch_volumes_remove(struct store *s, char *const *names);

/* The Mounts of container record @rec as podman's inspect shows them (a new JSON array). */
json_t *launch_mounts_inspect(const json_t *rec);

/* ---- container.c: container lifecycle on top of overlay ---- */

/*
 * Starts container @id (created by overlay_container_create, with its run
 * options put by launch_run_config_put). @attach: runs in the foreground
 * with this process's stdio and returns the exit status in *status;
 * otherwise a monitor process keeps it running with its output in the
 * container's log and *status is 0; with a terminal ("Tty") the monitor
 * holds it, for launch_container_attach.
 */
int launch_container_start(struct store *s, const char *id, bool attach, int *status,
			   struct strata_error **err);

/* The keys that leave an attached terminal, as podman's default. */
#define LAUNCH_DETACH_KEYS "ctrl-p,ctrl-q"
#define LAUNCH_DETACH_KEYS_MAX 16

/*
 * Parses detach keys as podman's --detach-keys: comma-separated keys,
 * each one character or ctrl-X (X in a-z, @, [, \, ], ^, _); "" for none.
 * The bytes go to @keys (LAUNCH_DETACH_KEYS_MAX of room), their count to *n.
 */
int launch_detach_keys_parse(const char *spec, char *keys, size_t *n, struct strata_error **err);

/*
 * Attaches this process's stdio (raw, window size passed on) to the
 * terminal of running container @id, started detached with -t, until it
 * ends (its exit status in *status) or the user types @detach_keys (NULL:
 * LAUNCH_DETACH_KEYS), which leaves it running (*detached).
 */
int launch_container_attach(struct store *s, const char *id, const char *detach_keys,
			    int *status, bool *detached, struct strata_error **err);

/*
 * `run -it`: starts container @id (made with a terminal) under a monitor
 * that holds its terminal, as `run -dit` does, and attaches to it at once
 * (its first output waits for that), as launch_container_attach.
 */
int launch_container_run_attached(struct store *s, const char *id, const char *detach_keys,
				  int *status, bool *detached, struct strata_error **err);

/* Sends @sig to the container's PID 1. */
int launch_container_kill(struct store *s, const char *id, int sig, struct strata_error **err);

/* The stop signal, then SIGKILL after @timeout seconds; waits until it has exited. */
int launch_container_stop(struct store *s, const char *id, int timeout, struct strata_error **err);

/* Waits until the container has exited; its exit code in *code. */
int launch_container_wait(struct store *s, const char *id, int *code, struct strata_error **err);

/* Freezes a running container's processes (for commit). */
int launch_container_freeze(struct store *s, const char *id, struct strata_error **err);

/* Thaws what launch_container_freeze froze. */
int launch_container_thaw(struct store *s, const char *id, struct strata_error **err);

/* True when the container's record says running and its PID 1 is alive. */
bool launch_container_running(const json_t *rec);

/*
 * The /proc view of a running container: "serving" while the process
 * serving it lives, "dead" once it is gone (reads then fail); NULL when the
 * container is not running or has no view.
 */
const char *launch_container_view_state(const json_t *rec);

/* Reads a running container's cgroup usage. */
int launch_container_stats(struct store *s, const char *id, struct launch_stats *st,
			   struct strata_error **err);

/* Runs @spec's argv in running container @id; exit status in *status. */
int launch_container_exec(struct store *s, const char *id, const struct launch_spec *spec,
			  int *status, struct strata_error **err);

/* The path of the container's log file (stdout and stderr of a detached container). */
char *launch_container_log_path(struct store *s, const char *id);

/*
 * Builds the spec of container record @rec: the image config's Entrypoint,
 * Cmd, Env, WorkingDir, User with the record's run options over them.
 * Free with launch_spec_free.
 */
int launch_spec_from_record(const json_t *rec, struct launch_spec *spec,
			    struct launch_limits *limits, struct strata_error **err);

/* Frees what launch_spec_from_record allocated. */
void launch_spec_free(struct launch_spec *spec);

/* Parses "TERM", "SIGTERM" or "15"; -1 when unknown. */
int launch_signal_parse(const char *s);

/* ---- bundle.c ---- */

/*
 * Writes config.json of an OCI runtime bundle for @spec and @limits into
 * @dir, whose rootfs/ the caller has made (users are resolved in it), so
 * that `crun run` and `runc run` start what strata would.
 */
int launch_bundle_write(const char *dir, const struct launch_spec *spec,
			const struct launch_limits *limits, struct strata_error **err);

#endif
