/*
 * procview: a container's own view of the files that describe its machine
 * (/proc/meminfo, cpuinfo, stat, uptime, loadavg, swaps, diskstats and
 * /sys/devices/system/cpu/online), computed from its cgroup (v1 or v2) and
 * the host's files, and served read-only by a FUSE filesystem (libfuse3's
 * low-level API) that the launcher binds over those paths in the container.
 */
#ifndef STRATA_PROCVIEW_PROCVIEW_H
#define STRATA_PROCVIEW_PROCVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

/* The files of the view, in the order they are mounted. */
enum procview_file {
	PROCVIEW_MEMINFO,
	PROCVIEW_CPUINFO,
	PROCVIEW_STAT,
	PROCVIEW_UPTIME,
	PROCVIEW_LOADAVG,
	PROCVIEW_SWAPS,
	PROCVIEW_DISKSTATS,
	PROCVIEW_CPU_ONLINE,
	PROCVIEW_N_FILES,
};

/* The file's name at the top of the view's filesystem ("meminfo", "cpu-online"). */
const char *procview_file_name(enum procview_file f);

/*
 * Where the file's filesystem is mounted in the container, relative to its
 * root ("proc/meminfo"); PROCVIEW_CPU_ONLINE's is the directory
 * "sys/devices/system/cpu", the host's but for the CPUs the container does
 * not see, whose "online" is the file.
 */
const char *procview_file_target(enum procview_file f);

/* True when the file's filesystem is a directory (PROCVIEW_CPU_ONLINE's), not the file itself. */
bool procview_file_is_dir(enum procview_file f);

/* Where one container's values come from, and what the view remembers between reads. */
struct procview_source;

/*
 * A source reading the host's files under @host_proc (normally "/proc") and
 * @host_cpu_online (normally "/sys/devices/system/cpu/online"), with no
 * cgroup yet: every file shows the host's values until one is set.
 */
struct procview_source *procview_source_new(const char *host_proc, const char *host_cpu_online);

/*
 * Sets the cgroup directory of v1 controller @controller ("memory", "cpu",
 * "cpuacct", "cpuset", "blkio"), or, with "", the one cgroup v2 directory.
 * Others are ignored.
 */
void procview_source_set_dir(struct procview_source *src, const char *controller, const char *dir);

/* Sets when the container started, in seconds of CLOCK_BOOTTIME (what uptime counts from). */
void procview_source_set_start(struct procview_source *src, double boottime);

/* Frees @src. NULL is fine. */
void procview_source_free(struct procview_source *src);

/*
 * Renders file @f of the view into @out (appended). Fails only when a host
 * file cannot be read; a missing cgroup file means no limit.
 */
int procview_render(struct procview_source *src, enum procview_file f, struct sbuf *out,
		    struct strata_error **err);

/* The CLOCK_BOOTTIME time of process @pid's start, in seconds; 0 when it is gone. */
double procview_pid_boottime(pid_t pid);

/*
 * The thread id on the host of the process reading (a FUSE request's
 * sender), which the next rendering leaves out of what it counts (a reader
 * waiting for its answer is in state D).
 */
void procview_source_set_reader(struct procview_source *src, pid_t reader);

/* How often, in seconds, the server samples a container's load (as the kernel and LXCFS do). */
#define PROCVIEW_LOAD_EVERY 5

/* Takes a sample of the cgroup's running threads into the load averages of /proc/loadavg. */
void procview_source_sample(struct procview_source *src);

/*
 * Loads libfuse3 (dlopen, once per process), which a view's server needs;
 * commands that serve no view never map it. Fails when it cannot be loaded.
 */
int procview_fuse_load(struct strata_error **err);

/*
 * Starts loading libfuse3 in a thread of its own (about 0.6 ms of the
 * dynamic loader), so that it overlaps the caller's other work; the next
 * procview_fuse_load, from the same thread, joins it (so that no other
 * thread is left when the caller clones).
 */
void procview_fuse_preload(void);

/* Opens /dev/fuse once per file of the view (one FUSE connection each) into @fds. */
int procview_devices_open(int fds[PROCVIEW_N_FILES], struct strata_error **err);

/* Closes the devices of @fds that are open and sets them to -1. */
void procview_devices_close(int fds[PROCVIEW_N_FILES]);

/*
 * The data of mount(2) for file @f of a view on its device @fuse_fd: a
 * read-only filesystem whose root is the file itself (so it is mounted
 * straight on the file's place), which every user of the container may read
 * (allow_other), owned by root. Caller frees.
 */
char *procview_mount_data(int fuse_fd, enum procview_file f);

/* A running view: the FUSE sessions and the thread that serves them. */
struct procview_server;

/*
 * Starts serving @src (taken; freed with the server) on the devices @fds
 * (taken, each set to -1; -1 entries have no file) in a new thread, which
 * waits for procview_server_mounted before it reads them, so that its start
 * overlaps the mounts. The thread ends when every connection has ended (the
 * mounts are gone) or at procview_server_free. Signals stay with the
 * caller's threads. Fails (closing the devices) when libfuse3 cannot be
 * loaded or a session made.
 */
int procview_server_start(struct procview_source *src, int fds[PROCVIEW_N_FILES],
			  struct procview_server **out, struct strata_error **err);

/* Says which devices are mounted now (bit f: file f); the others are closed. */
void procview_server_mounted(struct procview_server *srv, unsigned mounted);

/* True while the server thread serves. */
bool procview_server_alive(const struct procview_server *srv);

/* Stops the thread (the mounts' reads then fail), closes the devices, frees @srv. NULL is fine. */
void procview_server_free(struct procview_server *srv);

/* The filesystem type to give mount(2) ("fuse.strata-procview"). */
#define PROCVIEW_FSTYPE "fuse.strata-procview"

#endif
