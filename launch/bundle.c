/*
 * OCI runtime bundles: config.json of the runtime spec for a container
 * spec, next to a rootfs/ the caller has made. The same settings strata's
 * own launcher applies: namespaces, mounts (the container's cgroup at
 * /sys/fs/cgroup), masked and read-only paths, capabilities,
 * no_new_privs, the seccomp filter of those capabilities, the device
 * policy and --device nodes, cgroup resources.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "launch/launch-int.h"

static json_t *mount_obj(const char *dst, const char *type, const char *src, const char *opts)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "destination", dst, "type", type, "source", src);
	json_t *a = json_array();
	cleanup_free char *copy = xstrdup(opts);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(t));
	json_object_set_new(o, "options", a);
	return o;
}

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The mounts strata's launcher makes, then the volumes and tmpfs mounts of @spec. */
static json_t *bundle_mounts(const struct launch_spec *spec)
{
	json_t *mounts;

	mounts = json_array();
	json_array_append_new(mounts, mount_obj("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_obj("/dev", "tmpfs", "tmpfs",
						"nosuid,strictatime,mode=755,size=65536k"));
	json_array_append_new(mounts, mount_obj("/dev/pts", "devpts", "devpts",
						"nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
	json_array_append_new(mounts, mount_obj("/dev/shm", "tmpfs", "shm",
						"nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_array_append_new(mounts, mount_obj("/dev/mqueue", "mqueue", "mqueue",
						"nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_obj("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	/* the container's own cgroup, read-only, as strata's launcher shows it */
	json_array_append_new(mounts, mount_obj("/sys/fs/cgroup", "cgroup", "cgroup",
						"nosuid,noexec,nodev,relatime,ro"));
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct launch_mount *m = &spec->mounts[i];
		cleanup_free char *topts = NULL;

		/* a tmpfs as run makes it: its mode (1777 unless given) and size */
		topts = xasprintf("nosuid,nodev,mode=%o%s", m->tmpfs_mode ? m->tmpfs_mode : 01777,
				  m->readonly ? ",ro" : "");
		if (m->tmpfs_size) {
			char *t = xasprintf("%s,size=%llu", topts, (unsigned long long)m->tmpfs_size);

			free(topts);
			topts = t;
		}
		cleanup_free char *bopts = xasprintf("rbind%s,%s", m->readonly ? ",ro" : "",
						     launch_propagation_name(m->propagation));

		json_array_append_new(mounts,
				      m->tmpfs ? mount_obj(m->destination, "tmpfs", "tmpfs", topts)
					       : mount_obj(m->destination, "bind", m->source, bopts));
	}
	return mounts;
}

/*
 * linux.resources.devices: every device denied, then the launcher's rules;
 * linux.devices: the nodes --device gives, made by the runtime at their
 * path in the container.
 */
static int device_policy(const struct launch_spec *spec, json_t *res, json_t **devs,
			 struct strata_error **err)
{
	cleanup_free struct launch_device_rule *rules = NULL;
	json_t *list = json_array();
	size_t n;

	if (launch_device_rules(spec->devices, spec->n_devices, &rules, &n, err) < 0) {
		json_decref(list);
		return -1;
	}
	json_array_append_new(list, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"));
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *acc = launch_device_access_string(rules[i].access);
		json_t *r = json_pack("{s:b, s:s#, s:s}", "allow", 1, "type", &rules[i].type, 1,
				      "access", acc);

		if (rules[i].major >= 0)
			json_object_set_new(r, "major", json_integer(rules[i].major));
		if (rules[i].minor >= 0)
			json_object_set_new(r, "minor", json_integer(rules[i].minor));
		json_array_append_new(list, r);
	}
	json_object_set_new(res, "devices", list);
	*devs = json_array();
	/* launch_device_rules put the given devices after the default set, in order */
	for (size_t i = 0; i < spec->n_devices; i++) {
		const struct launch_device_rule *r = &rules[n - spec->n_devices + i];

		json_array_append_new(*devs, json_pack("{s:s, s:s#, s:I, s:I, s:i, s:i, s:i}", "path",
						       spec->devices[i].destination, "type",
						       &r->type, 1, "major", (json_int_t)r->major,
						       "minor", (json_int_t)r->minor, "fileMode",
						       0666, "uid", 0, "gid", 0));
	}
	return 0;
}

int launch_bundle_write(const char *dir, const struct launch_spec *spec,
			const struct launch_limits *l, struct strata_error **err)
{
	static const char *const masked[] = { "/proc/acpi",	    "/proc/kcore",
					      "/proc/keys",	    "/proc/latency_stats",
					      "/proc/timer_list",   "/proc/timer_stats",
					      "/proc/sched_debug",  "/proc/scsi",
					      "/sys/firmware",	    NULL };
	static const char *const ro[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					  "/proc/sysrq-trigger", NULL };
	cleanup_json json_t *cfg = NULL;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int rootfd = -1;
	cleanup_free gid_t *groups = NULL;
	cleanup_free char *home = NULL;
	json_t *caps = json_array(), *mounts, *ns, *res, *sc, *gids, *devs = NULL;
	uint64_t mask;
	uid_t uid;
	gid_t gid;
	size_t ng;
	char **env = strv_dup(spec->env);

	if (dfd < 0)
		return strata_fail(err, errno, "open bundle '%s'", dir);
	rootfd = openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		strv_free(env);
		json_decref(caps);
		return strata_fail(err, errno, "open '%s/rootfs'", dir);
	}
	if (launch_caps_mask(spec->cap_add, spec->cap_drop, &mask, err) < 0 ||
	    launch_user_resolve(rootfd, spec->user, &uid, &gid, &groups, &ng, &home, err) < 0) {
		strv_free(env);
		json_decref(caps);
		return -1;
	}
	for (int c = 0; c < 64; c++)
		if ((mask & (1ULL << c)) && launch_caps_name(c))
			json_array_append_new(caps, json_string(launch_caps_name(c)));
	{
		bool has_path = false;

		for (size_t i = 0; env && env[i]; i++)
			has_path |= !strncmp(env[i], "PATH=", 5);
		if (!has_path)
			strv_append(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	}
	gids = json_array();
	for (size_t i = 0; i < ng; i++)
		json_array_append_new(gids, json_integer(groups[i]));
	mounts = bundle_mounts(spec);
	ns = json_pack("[{s:s},{s:s},{s:s},{s:s},{s:s}]", "type", "pid", "type", "ipc", "type",
		       "uts", "type", "mount", "type", "cgroup");
	if (!spec->host_network)
		json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
	res = json_object();
	if (l->memory > 0)
		json_object_set_new(res, "memory",
				    json_pack("{s:I}", "limit", (json_int_t)l->memory));
	if (l->cpu_quota > 0 || l->cpu_shares > 0 || (l->cpuset && *l->cpuset)) {
		json_t *cpu = json_object();

		if (l->cpu_quota > 0) {
			json_object_set_new(cpu, "quota", json_integer(l->cpu_quota));
			json_object_set_new(cpu, "period",
					    json_integer(l->cpu_period > 0 ? l->cpu_period : 100000));
		}
		if (l->cpu_shares > 0)
			json_object_set_new(cpu, "shares", json_integer(l->cpu_shares));
		if (l->cpuset && *l->cpuset)
			json_object_set_new(cpu, "cpus", json_string(l->cpuset));
		json_object_set_new(res, "cpu", cpu);
	}
	if (l->pids > 0)
		json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)l->pids));
	if (device_policy(spec, res, &devs, err) < 0) {
		json_decref(res);
		json_decref(mounts);
		json_decref(ns);
		json_decref(gids);
		json_decref(caps);
		strv_free(env);
		return -1;
	}
	sc = launch_seccomp_oci(mask);
	cfg = json_pack(
		"{s:s, s:{s:b, s:{s:i, s:i, s:o}, s:o, s:o, s:s, s:{s:O, s:O, s:O}, s:b},"
		" s:{s:s, s:b}, s:s, s:o, s:{s:o, s:o, s:o, s:o}}",
		"ociVersion", "1.0.2", "process", "terminal", 0, "user", "uid", (int)uid, "gid",
		(int)gid, "additionalGids", gids, "args", jv_strv(spec->argv), "env", jv_strv(env),
		"cwd", spec->cwd && *spec->cwd ? spec->cwd : "/", "capabilities", "bounding", caps,
		"effective", caps, "permitted", caps, "noNewPrivileges",
		/* run's seccomp filter sets no_new_privs too (libseccomp's default) */
		spec->no_new_privs || !spec->no_seccomp, "root",
		"path", "rootfs", "readonly", spec->readonly_rootfs, "hostname",
		spec->hostname ? spec->hostname : "strata", "mounts", mounts, "linux", "namespaces",
		ns, "resources", res, "maskedPaths", strings(masked), "readonlyPaths", strings(ro));
	json_decref(caps);
	strv_free(env);
	if (!cfg)
		return strata_fail_msg(err, EINVAL, "bundle: cannot build config.json");
	json_object_set_new(json_object_get(cfg, "linux"), "devices", devs);
	if (!spec->no_seccomp)
		json_object_set_new(json_object_get(cfg, "linux"), "seccomp", sc);
	else
		json_decref(sc);
	return jv_write_at(dfd, "config.json", cfg, err);
}
