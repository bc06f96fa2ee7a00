/*
 * The run options of a container (struct launch_run_config) and their JSON
 * form, the "RunConfig" object of a container record. Only this file
 * knows the keys; they are those strata has always written, so records
 * made by earlier versions load unchanged. Validation of the options is
 * here too, so that run, create and bundle refuse the same things.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "launch/launch-int.h"

/* The kernel refuses smaller memory limits on some versions; Docker's floor. */
#define MEMORY_MIN (6LL << 20)

struct launch_mount *launch_run_config_add_mount(struct launch_run_config *rc, const char *source,
						 const char *destination, bool readonly)
{
	struct launch_mount *m;

	rc->mounts = xrealloc(rc->mounts, (rc->n_mounts + 1) * sizeof(*rc->mounts));
	m = &rc->mounts[rc->n_mounts++];
	memset(m, 0, sizeof(*m));
	m->source = source ? xstrdup(source) : NULL;
	m->destination = xstrdup(destination);
	m->readonly = readonly;
	m->tmpfs = !source;
	return m;
}

struct launch_mount *launch_run_config_add_volume(struct launch_run_config *rc, const char *name,
						  const char *destination, bool readonly)
{
	struct launch_mount *m = launch_run_config_add_mount(rc, "", destination, readonly);

	free(m->source);
	m->source = NULL;
	m->volume = xstrdup(name);
	return m;
}

void launch_run_config_add_device(struct launch_run_config *rc, const struct launch_device *dev)
{
	struct launch_device *d;

	rc->devices = xrealloc(rc->devices, (rc->n_devices + 1) * sizeof(*rc->devices));
	d = &rc->devices[rc->n_devices++];
	d->source = xstrdup(dev->source);
	d->destination = xstrdup(dev->destination);
	d->access = dev->access;
}

void launch_devices_free(struct launch_device *devs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(devs[i].source);
		free(devs[i].destination);
	}
	free(devs);
}

void launch_run_config_release(struct launch_run_config *rc)
{
	strv_free(rc->entrypoint);
	strv_free(rc->env);
	free(rc->workdir);
	free(rc->user);
	free(rc->hostname);
	free(rc->passwd_entry);
	free(rc->group_entry);
	free(rc->stop_signal);
	strv_free(rc->cap_add);
	strv_free(rc->cap_drop);
	for (size_t i = 0; i < rc->n_mounts; i++) {
		free(rc->mounts[i].source);
		free(rc->mounts[i].destination);
		free(rc->mounts[i].volume);
	}
	free(rc->mounts);
	launch_devices_free(rc->devices, rc->n_devices);
	free((char *)rc->limits.cpuset);
	memset(rc, 0, sizeof(*rc));
}

int launch_run_config_check(const struct launch_run_config *rc, struct strata_error **err)
{
	const struct launch_limits *l = &rc->limits;
	uint64_t mask;

	if (l->memory < 0 || (l->memory > 0 && l->memory < MEMORY_MIN))
		return strata_fail_msg(err, EINVAL, "memory limit %lld is below the 6 MiB minimum",
				       (long long)l->memory);
	if (l->memory_swap < -1 || l->cpu_quota < 0 || l->cpu_period < 0 || l->cpu_shares < 0 ||
	    l->pids < 0)
		return strata_fail_msg(err, EINVAL, "a negative limit");
	if (l->cpuset && (!*l->cpuset || strspn(l->cpuset, "0123456789,-") != strlen(l->cpuset)))
		return strata_fail_msg(err, EINVAL, "invalid CPU list '%s'", l->cpuset);
	for (size_t i = 0; i < rc->n_mounts; i++) {
		const struct launch_mount *m = &rc->mounts[i];
		cleanup_free char *clean = path_clean(m->destination);

		if (m->destination[0] != '/')
			return strata_fail_msg(err, EINVAL, "mount destination '%s' is not absolute",
					       m->destination);
		if (!*clean)
			return strata_fail_msg(err, EINVAL, "cannot mount over '/'");
		if (m->volume && *m->volume && !store_volume_name_is_valid(m->volume))
			return strata_fail_msg(err, EINVAL,
					       "invalid volume name '%s': names must match "
					       "[a-zA-Z0-9][a-zA-Z0-9_.-]*",
					       m->volume);
		if (m->propagation && m->tmpfs)
			return strata_fail_msg(err, EINVAL, "a tmpfs takes no propagation");
		if (m->tmpfs_mode > 07777)
			return strata_fail_msg(err, EINVAL, "invalid tmpfs mode %o", m->tmpfs_mode);
		for (size_t j = 0; j < i; j++) {
			cleanup_free char *other = path_clean(rc->mounts[j].destination);

			if (!strcmp(clean, other))
				return strata_fail_msg(err, EINVAL, "duplicate mount destination '%s'",
						       m->destination);
		}
	}
	for (size_t i = 0; i < rc->n_devices; i++)
		if (rc->devices[i].source[0] != '/' || rc->devices[i].destination[0] != '/' ||
		    !rc->devices[i].access || (rc->devices[i].access & ~7U))
			return strata_fail_msg(err, EINVAL, "invalid device '%s'",
					       rc->devices[i].source);
	if (rc->n_devices) {
		struct launch_device_rule *rules = NULL;
		size_t n;

		/* the host paths must be device nodes now, not only at start */
		if (launch_device_rules(rc->devices, rc->n_devices, &rules, &n, err) < 0)
			return -1;
		free(rules);
	}
	if (rc->stop_signal && launch_signal_parse(rc->stop_signal) < 0)
		return strata_fail_msg(err, EINVAL, "unknown signal '%s'", rc->stop_signal);
	return launch_caps_mask(rc->cap_add, rc->cap_drop, &mask, err);
}

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void set_true(json_t *o, const char *key, bool v)
{
	if (v)
		json_object_set_new(o, key, json_true());
}

static void set_int(json_t *o, const char *key, int64_t v)
{
	if (v)
		json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void set_strv(json_t *o, const char *key, char *const *v)
{
	if (v && v[0])
		json_object_set_new(o, key, jv_strv(v));
}

static json_t *to_json(const struct launch_run_config *rc)
{
	const struct launch_limits *l = &rc->limits;
	json_t *o = json_object();

	if (rc->has_entrypoint)
		json_object_set_new(o, "Entrypoint", jv_strv(rc->entrypoint));
	set_strv(o, "Env", rc->env);
	set_str(o, "WorkingDir", rc->workdir);
	set_str(o, "User", rc->user);
	set_str(o, "Hostname", rc->hostname);
	set_str(o, "PasswdEntry", rc->passwd_entry);
	set_str(o, "GroupEntry", rc->group_entry);
	set_str(o, "StopSignal", rc->stop_signal);
	if (rc->host_network)
		set_str(o, "Network", "host");
	set_true(o, "ReadOnly", rc->readonly_rootfs);
	if (rc->no_seccomp)
		json_object_set_new(o, "Seccomp", json_false());
	set_true(o, "NoNewPrivileges", rc->no_new_privs);
	set_true(o, "Init", rc->init);
	set_true(o, "NoProcView", rc->no_proc_view);
	set_true(o, "AutoRemove", rc->auto_remove);
	set_true(o, "Interactive", rc->interactive);
	set_true(o, "Tty", rc->tty);
	set_strv(o, "CapAdd", rc->cap_add);
	set_strv(o, "CapDrop", rc->cap_drop);
	if (rc->n_mounts) {
		json_t *a = json_array();

		for (size_t i = 0; i < rc->n_mounts; i++) {
			const struct launch_mount *m = &rc->mounts[i];
			json_t *j = json_pack("{s:s, s:s}", "Type",
					      m->volume ? "volume" : m->tmpfs ? "tmpfs" : "bind",
					      "Destination", m->destination);

			set_str(j, "Name", m->volume);
			set_str(j, "Source", m->source);
			set_true(j, "ReadOnly", m->readonly);
			set_true(j, "Anonymous", m->anonymous);
			set_true(j, "NoCopy", m->nocopy);
			set_true(j, "Chown", m->chown);
			if (m->propagation)
				set_str(j, "Propagation", launch_propagation_name(m->propagation));
			set_int(j, "TmpfsSize", (int64_t)m->tmpfs_size);
			set_int(j, "TmpfsMode", m->tmpfs_mode);
			json_array_append_new(a, j);
		}
		json_object_set_new(o, "Mounts", a);
	}
	if (rc->n_devices) {
		json_t *a = json_array();

		for (size_t i = 0; i < rc->n_devices; i++) {
			cleanup_free char *acc = launch_device_access_string(rc->devices[i].access);

			json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "PathOnHost",
							   rc->devices[i].source, "PathInContainer",
							   rc->devices[i].destination,
							   "CgroupPermissions", acc));
		}
		json_object_set_new(o, "Devices", a);
	}
	set_int(o, "Memory", l->memory);
	set_int(o, "MemorySwap", l->memory_swap);
	set_int(o, "CpuQuota", l->cpu_quota);
	set_int(o, "CpuPeriod", l->cpu_period);
	set_int(o, "CpuShares", l->cpu_shares);
	set_int(o, "PidsLimit", l->pids);
	set_str(o, "CpusetCpus", l->cpuset);
	return o;
}

int launch_run_config_put(json_t *rec, const struct launch_run_config *rc,
			  struct strata_error **err)
{
	json_t *vols = json_array();

	if (launch_run_config_check(rc, err) < 0) {
		json_decref(vols);
		return -1;
	}
	json_object_set_new(rec, "RunConfig", to_json(rc));
	/* the store reads which volumes a container uses from this list */
	for (size_t i = 0; i < rc->n_mounts; i++)
		if (rc->mounts[i].volume && *rc->mounts[i].volume)
			json_array_append_new(vols, json_string(rc->mounts[i].volume));
	json_object_set_new(rec, "Volumes", vols);
	return 0;
}

static char *get_str(const json_t *o, const char *key)
{
	const char *s = jv_str(o, key);

	return s && *s ? xstrdup(s) : NULL;
}

static int64_t get_int(const json_t *o, const char *key)
{
	return (int64_t)jv_int(o, key, 0);
}

void launch_run_config_get(const json_t *rec, struct launch_run_config *rc)
{
	json_t *o = json_object_get(rec, "RunConfig");
	json_t *ep = json_object_get(o, "Entrypoint");
	json_t *mounts = json_object_get(o, "Mounts");
	const char *net = jv_str(o, "Network");
	struct launch_limits *l = &rc->limits;

	memset(rc, 0, sizeof(*rc));
	rc->has_entrypoint = json_is_array(ep);
	rc->entrypoint = jv_to_strv(ep);
	rc->env = jv_to_strv(json_object_get(o, "Env"));
	rc->workdir = get_str(o, "WorkingDir");
	rc->user = get_str(o, "User");
	rc->hostname = get_str(o, "Hostname");
	rc->passwd_entry = get_str(o, "PasswdEntry");
	rc->group_entry = get_str(o, "GroupEntry");
	rc->stop_signal = get_str(o, "StopSignal");
	rc->host_network = net && !strcmp(net, "host");
	rc->readonly_rootfs = json_is_true(json_object_get(o, "ReadOnly"));
	rc->no_seccomp = json_is_false(json_object_get(o, "Seccomp"));
	rc->no_new_privs = json_is_true(json_object_get(o, "NoNewPrivileges"));
	rc->init = json_is_true(json_object_get(o, "Init"));
	rc->no_proc_view = json_is_true(json_object_get(o, "NoProcView"));
	rc->auto_remove = json_is_true(json_object_get(o, "AutoRemove"));
	rc->interactive = json_is_true(json_object_get(o, "Interactive"));
	rc->tty = json_is_true(json_object_get(o, "Tty"));
	rc->cap_add = jv_to_strv(json_object_get(o, "CapAdd"));
	rc->cap_drop = jv_to_strv(json_object_get(o, "CapDrop"));
	if (json_is_array(mounts)) {
		size_t i;
		json_t *m;

		json_array_foreach(mounts, i, m) {
			const char *type = jv_str(m, "Type");
			const char *src = jv_str(m, "Source");
			const char *dst = jv_str(m, "Destination");
			const char *vol = jv_str(m, "Name");
			bool tmpfs = type && !strcmp(type, "tmpfs");
			bool is_vol = type && !strcmp(type, "volume");
			struct launch_mount *lm;

			if ((!tmpfs && !src) || (is_vol && !vol))
				continue; /* a bind without a source was never written */
			lm = launch_run_config_add_mount(rc, tmpfs ? NULL : src, dst ? dst : "/",
							 json_is_true(json_object_get(m, "ReadOnly")));
			if (is_vol)
				lm->volume = xstrdup(vol);
			lm->anonymous = json_is_true(json_object_get(m, "Anonymous"));
			lm->nocopy = json_is_true(json_object_get(m, "NoCopy"));
			lm->chown = json_is_true(json_object_get(m, "Chown"));
			if (jv_str(m, "Propagation") &&
			    launch_propagation_parse(jv_str(m, "Propagation"), &lm->propagation) < 0)
				lm->propagation = 0;
			lm->tmpfs_size = (uint64_t)jv_int(m, "TmpfsSize", 0);
			lm->tmpfs_mode = (unsigned)jv_int(m, "TmpfsMode", 0) & 07777;
		}
	}
	{
		json_t *devs = json_object_get(o, "Devices");
		size_t i;
		json_t *d;

		json_array_foreach(devs, i, d) {
			struct launch_device dev = { (char *)jv_str(d, "PathOnHost"),
						     (char *)jv_str(d, "PathInContainer"), 0 };
			const char *acc = jv_str(d, "CgroupPermissions");

			if (!dev.source || !dev.destination || !acc ||
			    launch_device_access_parse(acc, &dev.access) < 0)
				continue;
			launch_run_config_add_device(rc, &dev);
		}
	}
	l->memory = get_int(o, "Memory");
	l->memory_swap = get_int(o, "MemorySwap");
	l->cpu_quota = get_int(o, "CpuQuota");
	l->cpu_period = get_int(o, "CpuPeriod");
	l->cpu_shares = get_int(o, "CpuShares");
	l->pids = get_int(o, "PidsLimit");
	l->cpuset = get_str(o, "CpusetCpus");
}
