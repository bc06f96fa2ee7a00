/*
 * Cgroups, v1 and v2. A container's cgroup is made under the cgroup this
 * process is in, per controller on v1 (from /proc/self/cgroup), never at
 * the top of a hierarchy unless strata itself runs there. v2 needs the
 * controllers enabled in the parent's cgroup.subtree_control; v1 needs a
 * directory per controller, and cpuset.cpus/mems copied from the parent
 * before a task can join. Control files are written with O_CREAT so that a
 * fake tree in a plain directory (the unit tests) behaves like cgroupfs;
 * on cgroupfs an absent file (a controller that is not there) still fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "launch/launch-int.h"

#define CG_MNT "/sys/fs/cgroup"

/* v1 controllers strata uses, and the directory each is mounted as. */
static const char *const v1_controllers[] = { "memory", "cpu", "pids", "cpuset", "freezer",
					     "cpuacct", "devices", "blkio" };
#define V1_DEVICES 6
#define N_V1 ARRAY_SIZE(v1_controllers)

struct launch_cgroup {
	int version;
	char *unified;	     /* v2 directory */
	char *v1[N_V1];	     /* v1 directories (NULL: controller missing) */
};

int launch_cgroup_version(const char *mnt)
{
	struct statfs sf;

	if (statfs(mnt, &sf) < 0)
		return 0;
	if (sf.f_type == CGROUP2_SUPER_MAGIC)
		return 2;
	if (sf.f_type == TMPFS_MAGIC) {
		cleanup_free char *mem = xasprintf("%s/memory", mnt);

		return access(mem, F_OK) == 0 ? 1 : 0;
	}
	/* A fake tree (tests): unified when it has cgroup.controllers. */
	{
		cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", mnt);

		if (access(ctl, F_OK) == 0)
			return 2;
	}
	return 0;
}

const char *launch_cgroup_mode(void)
{
	switch (launch_cgroup_version(CG_MNT)) {
	case 2:
		return "v2";
	case 1:
		return access(CG_MNT "/unified", F_OK) == 0 ? "v1 (hybrid)" : "v1";
	default:
		return "none";
	}
}

static int write_file(const char *dir, const char *file, const char *val,
		      struct strata_error **err)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return strata_fail(err, errno, "cgroup: open %s", p);
	n = write(fd, val, strlen(val));
	if (n < 0) {
		int e = errno;

		close(fd);
		return strata_fail(err, e, "cgroup: write '%s' to %s", val, p);
	}
	close(fd);
	return 0;
}

static char *read_file(const char *dir, const char *file)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	char *buf = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, p, 1 << 20, &buf, &len, NULL) < 0)
		return NULL;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return buf;
}

/* The cgroup path of this process for @controller ("" for v2) from @self_file. */
static char *self_path(const char *self_file, const char *controller)
{
	cleanup_free char *buf = NULL;
	size_t len;
	char *save = NULL;

	if (file_read_at(AT_FDCWD, self_file, 1 << 16, &buf, &len, NULL) < 0)
		return xstrdup("/");
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		if (!*controller) {
			if (!strcmp(c1 + 1, ""))
				return xstrdup(c2 + 1);
			continue;
		}
		/* "cpu,cpuacct" holds "cpu" */
		for (char *s2 = NULL, *t = strtok_r(c1 + 1, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
			if (!strcmp(t, controller))
				return xstrdup(c2 + 1);
	}
	return xstrdup("/");
}

static int make_dir(const char *base, const char *name, char **out, struct strata_error **err)
{
	cleanup_free char *parent = path_join(base, "strata");
	char *dir = path_join(parent, name);

	if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
		free(dir);
		return strata_fail(err, errno, "cgroup: mkdir %s", parent);
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;

		strata_fail(err, e, "cgroup: mkdir %s", dir);
		free(dir);
		return -1;
	}
	*out = dir;
	return 0;
}

/*
 * v2: a limit needs its controller in the cgroup's cgroup.controllers,
 * which lists what the parent enabled in its cgroup.subtree_control; a
 * control file that is not there fails to open with EACCES, which says
 * nothing of why. (A fake tree without the file is not checked.)
 */
static int v2_check_controllers(const char *dir, const char *base, const struct launch_limits *l,
				struct strata_error **err)
{
	static const struct {
		const char *controller, *option;
	} need[] = { { "memory", "--memory" }, { "cpu", "--cpus or --cpu-shares" },
		     { "pids", "--pids-limit" }, { "cpuset", "--cpuset-cpus" } };
	cleanup_free char *have = read_file(dir, "cgroup.controllers");
	bool asked[] = { l->memory > 0, l->cpu_quota > 0 || l->cpu_shares > 0,
			 l->pids > 0, l->cpuset && *l->cpuset };

	if (!have)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		size_t n = strlen(need[i].controller);
		bool found = false;

		for (const char *p = have; !found && (p = strstr(p, need[i].controller)); p += n)
			found = (p == have || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' ||
								p[n] == '\n');
		if (asked[i] && !found)
			return strata_fail_msg(
				err, ENODEV,
				"cgroup: %s needs the %s controller, which is not enabled (delegated) "
				"under %s: enable it in the cgroup.subtree_control of %s and the cgroups "
				"above it (echo +%s > .../cgroup.subtree_control), or run strata where "
				"it is delegated (systemd: Delegate=yes)",
				need[i].option, need[i].controller, base, base, need[i].controller);
	}
	return 0;
}

static int v2_limits(const char *dir, const struct launch_limits *l, struct strata_error **err)
{
	char v[64];

	if (l->memory > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
		if (write_file(dir, "memory.max", v, err) < 0)
			return -1;
		if (l->memory_swap == -1)
			snprintf(v, sizeof(v), "max");
		else if (l->memory_swap > 0)
			snprintf(v, sizeof(v), "%lld",
				 (long long)(l->memory_swap > l->memory ? l->memory_swap - l->memory : 0));
		else
			snprintf(v, sizeof(v), "%lld", (long long)l->memory); /* docker: swap = memory */
		if (write_file(dir, "memory.swap.max", v, err) < 0)
			return -1;
	}
	if (l->cpu_quota > 0) {
		snprintf(v, sizeof(v), "%lld %lld", (long long)l->cpu_quota,
			 (long long)(l->cpu_period > 0 ? l->cpu_period : 100000));
		if (write_file(dir, "cpu.max", v, err) < 0)
			return -1;
	}
	if (l->cpu_shares > 0) {
		/* The runtimes' mapping of shares [2, 262144] onto weight [1, 10000]. */
		int64_t sh = l->cpu_shares < 2 ? 2 : l->cpu_shares > 262144 ? 262144 : l->cpu_shares;

		snprintf(v, sizeof(v), "%lld", (long long)(1 + ((sh - 2) * 9999) / 262142));
		if (write_file(dir, "cpu.weight", v, err) < 0)
			return -1;
	}
	if (l->pids > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->pids);
		if (write_file(dir, "pids.max", v, err) < 0)
			return -1;
	}
	if (l->cpuset && *l->cpuset && write_file(dir, "cpuset.cpus", l->cpuset, err) < 0)
		return -1;
	return 0;
}

static int v1_limits(struct launch_cgroup *cg, const struct launch_limits *l,
		     struct strata_error **err)
{
	char v[64];
	const char *mem = cg->v1[0], *cpu = cg->v1[1], *pids = cg->v1[2], *cpuset = cg->v1[3];

	if (l->memory > 0) {
		if (!mem)
			return strata_fail_msg(err, ENODEV, "cgroup: no memory controller for --memory");
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
		if (write_file(mem, "memory.limit_in_bytes", v, err) < 0)
			return -1;
		{
			cleanup_free char *sw = xasprintf("%s/memory.memsw.limit_in_bytes", mem);

			/* memory + swap; without --memory-swap twice the memory (podman, docker) */
			snprintf(v, sizeof(v), "%lld",
				 (long long)(l->memory_swap ? l->memory_swap : 2 * l->memory));
			if (access(sw, F_OK) == 0 &&
			    write_file(mem, "memory.memsw.limit_in_bytes", v, err) < 0)
				return -1;
		}
	}
	if ((l->cpu_quota > 0 || l->cpu_shares > 0) && !cpu)
		return strata_fail_msg(err, ENODEV, "cgroup: no cpu controller for --cpus");
	if (l->cpu_quota > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)(l->cpu_period > 0 ? l->cpu_period : 100000));
		if (write_file(cpu, "cpu.cfs_period_us", v, err) < 0)
			return -1;
		snprintf(v, sizeof(v), "%lld", (long long)l->cpu_quota);
		if (write_file(cpu, "cpu.cfs_quota_us", v, err) < 0)
			return -1;
	}
	if (l->cpu_shares > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->cpu_shares);
		if (write_file(cpu, "cpu.shares", v, err) < 0)
			return -1;
	}
	if (l->pids > 0) {
		if (!pids)
			return strata_fail_msg(err, ENODEV, "cgroup: no pids controller for --pids-limit");
		snprintf(v, sizeof(v), "%lld", (long long)l->pids);
		if (write_file(pids, "pids.max", v, err) < 0)
			return -1;
	}
	if (cpuset && l->cpuset && *l->cpuset && write_file(cpuset, "cpuset.cpus", l->cpuset, err) < 0)
		return -1;
	return 0;
}

/* v1 cpuset: a new group has empty cpus and mems; a task cannot join until they are set. */
static void v1_cpuset_inherit(const char *dir)
{
	cleanup_free char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');

	if (!slash)
		return;
	*slash = '\0';
	for (int up = 0; up < 2; up++) {
		/* the "strata" level first, then the group itself */
		const char *d = up == 0 ? parent : dir;
		cleanup_free char *pp = xstrdup(d);
		char *s2 = strrchr(pp, '/');

		if (!s2)
			continue;
		*s2 = '\0';
		for (int i = 0; i < 2; i++) {
			const char *f = i ? "cpuset.mems" : "cpuset.cpus";
			cleanup_free char *cur = read_file(d, f);
			cleanup_free char *from = NULL;

			if (cur && *cur)
				continue;
			from = read_file(pp, f);
			if (from && *from)
				write_file(d, f, from, NULL);
		}
	}
}

/*
 * v1 blkio counts a cgroup's I/O per device (blkio.throttle.io_serviced,
 * io_service_bytes) only on a device it has a throttle rule for (kernels
 * since 6.x skip the throttle layer, and its counters, otherwise): so each
 * disk gets a rule far above any device's speed (2^50 bytes/s), for reads
 * and writes. Disks are the /sys/block entries with a device (not loop,
 * ram or device-mapper ones, whose I/O reaches a disk below them).
 */
static void v1_blkio_count(const char *dir)
{
	static const char *const files[] = { "blkio.throttle.read_bps_device",
					     "blkio.throttle.write_bps_device" };
	cleanup_dir DIR *d = opendir("/sys/block");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		cleanup_free char *devlink = NULL;
		cleanup_free char *sys = NULL;
		cleanup_free char *dev = NULL;
		cleanup_free char *rule = NULL;

		if (e->d_name[0] == '.')
			continue;
		devlink = xasprintf("/sys/block/%s/device", e->d_name);
		if (access(devlink, F_OK) < 0)
			continue;
		sys = xasprintf("/sys/block/%s", e->d_name);
		dev = read_file(sys, "dev");
		if (!dev || !*dev)
			continue;
		dev[strcspn(dev, "\n")] = '\0';
		rule = xasprintf("%s %llu", dev, 1ULL << 50);
		for (size_t i = 0; i < ARRAY_SIZE(files); i++)
			if (write_file(dir, files[i], rule, NULL) < 0)
				log_debug("cgroup: blkio rule on %s: %s", dev, strerror(errno));
	}
}

/*
 * The device policy, before any process of the container is in the cgroup:
 * v1 devices.deny/allow; v2 a device program, on cgroup2 only (a fake tree
 * in a plain directory has nothing to attach it to).
 */
static int apply_devices(struct launch_cgroup *cg, const char *mnt,
			 const struct launch_limits *l, struct strata_error **err)
{
	cleanup_free struct launch_device_rule *rules = NULL;
	size_t n;

	if (launch_device_rules(l->devices, l->n_devices, &rules, &n, err) < 0)
		return -1;
	if (cg->version == 2) {
		cleanup_close int fd = launch_cgroup_v2_fd(cg);

		return fd < 0 ? 0 : launch_device_bpf_attach(fd, rules, n, err);
	}
	if (cg->v1[V1_DEVICES])
		return launch_device_v1_write(cg->v1[V1_DEVICES], rules, n, err);
	{
		struct statfs sf;

		/* a real v1 tree without the devices controller cannot hold the container */
		if (statfs(mnt, &sf) == 0 && sf.f_type == TMPFS_MAGIC)
			return strata_fail_msg(err, ENODEV,
					       "cgroup: no devices controller in %s to confine devices",
					       mnt);
	}
	return 0;
}

int launch_cgroup_create(const char *mnt, int version, const char *self_file, const char *name,
			 const struct launch_limits *limits, struct launch_cgroup **out,
			 struct strata_error **err)
{
	struct launch_cgroup *cg = xcalloc(1, sizeof(*cg));
	static const struct launch_limits none;

	if (!limits)
		limits = &none;
	if (!version)
		version = launch_cgroup_version(mnt);
	cg->version = version;
	if (version == 2) {
		cleanup_free char *self = self_path(self_file, "");
		cleanup_free char *base = path_join(mnt, self);
		cleanup_free char *strata = path_join(base, "strata");

		if (make_dir(base, name, &cg->unified, err) < 0)
			goto fail;
		/* Delegate the controllers to the "strata" level (no processes live there). */
		if (write_file(strata, "cgroup.subtree_control", "+memory +pids +cpu +cpuset", NULL) <
		    0)
			log_debug("cgroup: cannot enable every controller under %s", strata);
		if (v2_check_controllers(cg->unified, base, limits, err) < 0 ||
		    v2_limits(cg->unified, limits, err) < 0)
			goto fail;
	} else if (version == 1) {
		for (size_t i = 0; i < N_V1; i++) {
			cleanup_free char *cdir = path_join(mnt, v1_controllers[i]);
			cleanup_free char *self = NULL;
			cleanup_free char *base = NULL;

			if (access(cdir, F_OK) < 0)
				continue;
			/* joining a v1 hierarchy costs a few ms: cpuset and blkio when asked for */
			if (!strcmp(v1_controllers[i], "cpuset") && !(limits->cpuset && *limits->cpuset))
				continue;
			if (!strcmp(v1_controllers[i], "blkio") && !limits->io_stats)
				continue;
			self = self_path(self_file, v1_controllers[i]);
			base = path_join(cdir, self);
			if (make_dir(base, name, &cg->v1[i], err) < 0)
				goto fail;
			if (!strcmp(v1_controllers[i], "cpuset"))
				v1_cpuset_inherit(cg->v1[i]);
			if (!strcmp(v1_controllers[i], "blkio"))
				v1_blkio_count(cg->v1[i]);
		}
		if (v1_limits(cg, limits, err) < 0)
			goto fail;
	} else {
		if (launch_limits_any(limits)) {
			strata_fail_msg(err, ENODEV, "no cgroup hierarchy at %s for the limits", mnt);
			goto fail;
		}
	}
	/*
	 * Not for root of a user namespace (rootless, `strata unshare`): the
	 * kernel refuses it mknod of any device, and it may not load BPF.
	 */
	if (version && sys_is_host_root() && apply_devices(cg, mnt, limits, err) < 0)
		goto fail;
	*out = cg;
	return 0;
fail:
	launch_cgroup_destroy(cg);
	return -1;
}

bool launch_limits_any(const struct launch_limits *l)
{
	return l && (l->memory || l->memory_swap || l->cpu_quota || l->cpu_shares || l->pids ||
		     (l->cpuset && *l->cpuset));
}

int launch_cgroup_open(const char *mnt, const char *self_file, const char *name,
		       const struct launch_limits *limits, bool host_root,
		       struct launch_cgroup **out, struct strata_error **err)
{
	cleanup_free char *self = NULL;
	cleanup_free char *base = NULL;
	cleanup_free char *procs = NULL;

	if (host_root)
		return launch_cgroup_create(mnt, 0, self_file, name, limits, out, err);
	/*
	 * Without root the tree is someone else's, except a v2 cgroup given
	 * to us (systemd's Delegate=): there a child cgroup may be made and
	 * our own processes moved into it (cgroups(7), "Cgroup delegation").
	 */
	*out = NULL;
	if (launch_cgroup_version(mnt) == 2) {
		self = self_path(self_file, "");
		base = path_join(mnt, self);
		procs = path_join(base, "cgroup.procs");
		if (access(base, W_OK) == 0 && access(procs, W_OK) == 0)
			return launch_cgroup_create(mnt, 2, self_file, name, limits, out, err);
	}
	if (launch_limits_any(limits))
		return strata_fail_msg(err, EPERM,
				       "cgroup limits need root or a delegated cgroup (this user may not write the cgroup it runs in)");
	return 0;
}

json_t *launch_cgroup_to_json(const struct launch_cgroup *cg)
{
	json_t *j = json_object();

	if (cg->unified)
		jv_set_str(j, "unified", cg->unified);
	for (size_t i = 0; i < N_V1; i++)
		if (cg->v1[i])
			jv_set_str(j, v1_controllers[i], cg->v1[i]);
	return j;
}

struct launch_cgroup *launch_cgroup_from_json(const json_t *j)
{
	struct launch_cgroup *cg;
	const char *u = jv_str(j, "unified");

	if (!json_is_object(j))
		return NULL;
	cg = xcalloc(1, sizeof(*cg));
	if (u) {
		cg->version = 2;
		cg->unified = xstrdup(u);
	} else {
		cg->version = 1;
		for (size_t i = 0; i < N_V1; i++) {
			const char *p = jv_str(j, v1_controllers[i]);

			cg->v1[i] = p ? xstrdup(p) : NULL;
		}
	}
	return cg;
}

int launch_cgroup_add(struct launch_cgroup *cg, pid_t pid, struct strata_error **err)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)pid);
	if (cg->unified)
		return write_file(cg->unified, "cgroup.procs", v, err);
	for (size_t i = 0; i < N_V1; i++)
		if (cg->v1[i] && write_file(cg->v1[i], "cgroup.procs", v, err) < 0)
			return -1;
	return 0;
}

bool launch_cgroup_dir(const struct launch_cgroup *cg, size_t i, const char **name,
		       const char **dir)
{
	if (!cg)
		return false;
	if (cg->unified) {
		*name = "";
		*dir = cg->unified;
		return i == 0;
	}
	for (size_t k = 0; k < N_V1; k++) {
		if (!cg->v1[k])
			continue;
		if (i-- == 0) {
			*name = v1_controllers[k];
			*dir = cg->v1[k];
			return true;
		}
	}
	return false;
}

int launch_cgroup_v2_fd(const struct launch_cgroup *cg)
{
	struct statfs sf;
	int fd;

	if (!cg || !cg->unified)
		return -1;
	fd = open(cg->unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (fstatfs(fd, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)) {
		close(fd);
		return -1;
	}
	return fd;
}

int launch_cgroup_freeze(struct launch_cgroup *cg, bool frozen, struct strata_error **err)
{
	const char *dir = cg->unified ? cg->unified : cg->v1[4];
	const char *file = cg->unified ? "cgroup.freeze" : "freezer.state";
	const char *want = cg->unified ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");

	if (!dir)
		return strata_fail_msg(err, ENODEV, "cgroup: no freezer for this container");
	if (write_file(dir, file, want, err) < 0)
		return -1;
	/* Wait for the state to settle (v1 passes through FREEZING, v2 sets cgroup.events). */
	for (int i = 0; i < 500; i++) {
		cleanup_free char *state = NULL;

		if (cg->unified) {
			cleanup_free char *ev = read_file(dir, "cgroup.events");
			char *f = ev ? strstr(ev, "frozen ") : NULL;

			if (!f || f[7] == (frozen ? '1' : '0'))
				return 0;
		} else {
			state = read_file(dir, "freezer.state");
			if (!state || !strcmp(state, want))
				return 0;
		}
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	return strata_fail_msg(err, ETIMEDOUT, "cgroup: the container did not %s in time",
			       frozen ? "freeze" : "thaw");
}

static uint64_t read_u64(const char *dir, const char *file, const char *key)
{
	cleanup_free char *s = dir ? read_file(dir, file) : NULL;
	const char *p = s;

	if (!s)
		return 0;
	if (key) {
		p = strstr(s, key);
		if (!p)
			return 0;
		p += strlen(key);
	}
	return strtoull(p, NULL, 10);
}

int launch_cgroup_stats(struct launch_cgroup *cg, struct launch_stats *st,
			struct strata_error **err)
{
	memset(st, 0, sizeof(*st));
	if (cg->unified) {
		cleanup_free char *max = read_file(cg->unified, "memory.max");

		st->memory = read_u64(cg->unified, "memory.current", NULL);
		st->memory_max = max && strcmp(max, "max") ? strtoull(max, NULL, 10) : 0;
		st->cpu_usec = read_u64(cg->unified, "cpu.stat", "usage_usec ");
		st->pids = read_u64(cg->unified, "pids.current", NULL);
		return 0;
	}
	if (!cg->v1[0] && !cg->v1[1] && !cg->v1[2])
		return strata_fail_msg(err, ENODEV, "cgroup: no controllers to read");
	st->memory = read_u64(cg->v1[0], "memory.usage_in_bytes", NULL);
	st->memory_max = read_u64(cg->v1[0], "memory.limit_in_bytes", NULL);
	if (st->memory_max >= (1ULL << 62))
		st->memory_max = 0;
	/* cpuacct may share the cpu hierarchy ("cpu,cpuacct") or have its own */
	st->cpu_usec = read_u64(cg->v1[5] ? cg->v1[5] : cg->v1[1], "cpuacct.usage", NULL) / 1000;
	st->pids = read_u64(cg->v1[2], "pids.current", NULL);
	return 0;
}

static void kill_all(const char *dir)
{
	cleanup_free char *procs = read_file(dir, "cgroup.procs");
	char *save = NULL;

	if (!procs)
		return;
	for (char *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(t, NULL, 10);

		if (pid > 1 && pid <= INT32_MAX) /* never a group, init or everyone */
			kill((pid_t)pid, SIGKILL);
	}
}

static void remove_dir(const char *dir)
{
	kill_all(dir);
	for (int i = 0; i < 200; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		kill_all(dir);
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	/* A fake tree (not cgroupfs) holds plain files: remove them too. */
	{
		struct statfs sf;

		if (statfs(dir, &sf) == 0 && sf.f_type != CGROUP_SUPER_MAGIC &&
		    sf.f_type != CGROUP2_SUPER_MAGIC)
			path_rm_rf_at(AT_FDCWD, dir, NULL);
	}
}

/* Removes the "build-PID-N" dirs under @strata_dir whose PID no longer lives. */
static size_t remove_dead_builds(const char *strata_dir)
{
	cleanup_dir DIR *d = opendir(strata_dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		cleanup_free char *dir = NULL;
		char *end;
		long pid;

		if (strncmp(de->d_name, "build-", 6) != 0)
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		if (end == de->d_name + 6 || *end != '-' || pid <= 0)
			continue;
		/* a live pid, or one reused by another process: not ours to judge */
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		dir = path_join(strata_dir, de->d_name);
		remove_dir(dir);
		n++;
	}
	return n;
}

size_t launch_cgroup_remove_dead_builds(const char *mnt, const char *self_file)
{
	int version = launch_cgroup_version(mnt);
	size_t n = 0;

	if (version == 2) {
		cleanup_free char *self = self_path(self_file, "");
		cleanup_free char *base = path_join(mnt, self);
		cleanup_free char *dir = path_join(base, "strata");

		n += remove_dead_builds(dir);
	} else if (version == 1) {
		for (size_t i = 0; i < N_V1; i++) {
			cleanup_free char *cdir = path_join(mnt, v1_controllers[i]);
			cleanup_free char *self = self_path(self_file, v1_controllers[i]);
			cleanup_free char *base = path_join(cdir, self);
			cleanup_free char *dir = path_join(base, "strata");

			n += remove_dead_builds(dir);
		}
	}
	return n;
}

void launch_cgroup_destroy(struct launch_cgroup *cg)
{
	if (!cg)
		return;
	if (cg->unified) {
		/* A frozen group cannot die: thaw first. */
		write_file(cg->unified, "cgroup.freeze", "0", NULL);
		remove_dir(cg->unified);
	}
	if (cg->v1[4])
		write_file(cg->v1[4], "freezer.state", "THAWED", NULL);
	for (size_t i = 0; i < N_V1; i++)
		if (cg->v1[i])
			remove_dir(cg->v1[i]);
	launch_cgroup_free(cg);
}

void launch_cgroup_free(struct launch_cgroup *cg)
{
	if (!cg)
		return;
	free(cg->unified);
	for (size_t i = 0; i < N_V1; i++)
		free(cg->v1[i]);
	free(cg);
}
