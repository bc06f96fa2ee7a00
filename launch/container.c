/*
 * Container lifecycle. A container's record (container.json, made by
 * overlay) holds the image config ("Config"), the command given at create
 * ("Command") and the run options ("RunConfig", written by the run and
 * create commands); launch adds "State": Status created|running|exited,
 * Pid (PID 1 of the container as seen from the host), ExitCode, StartedAt,
 * FinishedAt, and Cgroup (its directories).
 *
 * Attached, this process mounts the rootfs, starts PID 1, waits and tears
 * down. Detached, a monitor process (its own session, output to the
 * container's log) does the same and tells the caller once PID 1 has
 * exec'd or failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch/launch-int.h"
#include "overlay/overlay.h"

#define CG_MNT "/sys/fs/cgroup"

static char *get_str_or_null(const json_t *o, const char *key)
{
	const char *s = jv_str(o, key);

	return s && *s ? xstrdup(s) : NULL;
}

/*
 * PID 1 of a container whose record says running still lives: the same
 * pid and the start time recorded with it (a pid reused since is another
 * process), as podman checks its containers' processes.
 */
static bool state_alive(const json_t *st)
{
	json_int_t pid = jv_int(st, "Pid", 0);

	return pid > 0 && sys_pid_alive_since((pid_t)pid, (uint64_t)jv_int(st, "PidStartTime", 0));
}

bool launch_container_running(const json_t *rec)
{
	json_t *st = json_object_get(rec, "State");
	const char *status = jv_str(st, "Status");

	return status && !strcmp(status, "running") && state_alive(st);
}

const char *launch_container_view_state(const json_t *rec)
{
	json_t *v = json_object_get(json_object_get(rec, "State"), "ProcView");
	json_int_t pid = jv_int(v, "Pid", 0);

	if (!v || !launch_container_running(rec))
		return NULL;
	return pid > 0 && sys_pid_alive_since((pid_t)pid, (uint64_t)jv_int(v, "PidStartTime", 0))
		   ? "serving"
		   : "dead";
}

char *launch_container_log_path(struct store *s, const char *id)
{
	cleanup_free char *dir = store_container_path(s, id);

	return path_join(dir, "ctr.log");
}

/* Sets KEY=VALUE in @env, replacing an entry with the same key. */
static void env_set(char ***env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t n = eq ? (size_t)(eq - kv) : strlen(kv);

	for (size_t i = 0; *env && (*env)[i]; i++)
		if (!strncmp((*env)[i], kv, n) && (*env)[i][n] == '=') {
			free((*env)[i]);
			(*env)[i] = xstrdup(kv);
			return;
		}
	strv_append(env, kv);
}

int launch_spec_from_record(const json_t *rec, struct launch_spec *spec,
			    struct launch_limits *limits, struct strata_error **err)
{
	json_t *cfg = json_object_get(rec, "Config");
	json_t *cmd = json_object_get(rec, "Command");
	struct launch_run_config rc;
	cleanup_strv char **args = NULL;
	const char *wd = jv_str(cfg, "WorkingDir");

	launch_run_config_get(rec, &rc);
	memset(spec, 0, sizeof(*spec));
	spec->stdin_fd = -1;
	spec->stdout_fd = 1;
	spec->stderr_fd = 2;
	/* Entrypoint + Cmd: --entrypoint replaces the image's and drops its Cmd. */
	spec->argv = rc.has_entrypoint ? steal_ptr(&rc.entrypoint)
				       : jv_to_strv(json_object_get(cfg, "Entrypoint"));
	if (json_is_array(cmd) && json_array_size(cmd))
		args = jv_to_strv(cmd);
	else if (!rc.has_entrypoint)
		args = jv_to_strv(json_object_get(cfg, "Cmd"));
	for (size_t i = 0; args && args[i]; i++)
		strv_append(&spec->argv, args[i]);
	if (!spec->argv || !spec->argv[0]) {
		launch_run_config_release(&rc);
		launch_spec_free(spec);
		return strata_fail_msg(err, EINVAL,
				       "no command: the image has no Entrypoint or Cmd, give one");
	}
	spec->env = jv_to_strv(json_object_get(cfg, "Env"));
	for (size_t i = 0; rc.env && rc.env[i]; i++)
		env_set(&spec->env, rc.env[i]);
	spec->cwd = rc.workdir ? steal_ptr(&rc.workdir) : xstrdup(wd && *wd ? wd : "/");
	spec->user = rc.user ? steal_ptr(&rc.user) : get_str_or_null(cfg, "User");
	if (rc.hostname) {
		spec->hostname = steal_ptr(&rc.hostname);
	} else {
		const char *id = jv_str(rec, "Id");

		spec->hostname = id ? xstrndup(id, 12) : xstrdup("strata");
	}
	spec->passwd_entry = steal_ptr(&rc.passwd_entry);
	spec->group_entry = steal_ptr(&rc.group_entry);
	spec->idmap = xcalloc(1, sizeof(*spec->idmap));
	if (overlay_idmap_from_record(rec, spec->idmap) <= 0) {
		free(spec->idmap);
		spec->idmap = NULL;
	}
	spec->host_network = rc.host_network;
	spec->readonly_rootfs = rc.readonly_rootfs;
	spec->no_seccomp = rc.no_seccomp;
	spec->no_new_privs = rc.no_new_privs;
	spec->init = rc.init;
	spec->cap_add = steal_ptr(&rc.cap_add);
	spec->cap_drop = steal_ptr(&rc.cap_drop);
	spec->mounts = steal_ptr(&rc.mounts);
	spec->n_mounts = rc.n_mounts;
	rc.n_mounts = 0;
	spec->devices = steal_ptr(&rc.devices);
	spec->n_devices = rc.n_devices;
	rc.n_devices = 0;
	/* The cpuset string stays the record's, as before: borrowed from @rec. */
	*limits = rc.limits;
	limits->cpuset = jv_str(json_object_get(rec, "RunConfig"), "CpusetCpus");
	limits->devices = spec->devices;
	limits->n_devices = spec->n_devices;
	launch_run_config_release(&rc);
	return 0;
}

void launch_spec_free(struct launch_spec *spec)
{
	strv_free(spec->argv);
	strv_free(spec->env);
	free((char *)spec->cwd);
	free((char *)spec->user);
	free((char *)spec->hostname);
	strv_free(spec->cap_add);
	strv_free(spec->cap_drop);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		free(spec->mounts[i].source);
		free(spec->mounts[i].destination);
		free(spec->mounts[i].volume);
	}
	free(spec->mounts);
	launch_devices_free(spec->devices, spec->n_devices);
	if (spec->idmap)
		idmap_release(spec->idmap);
	free(spec->idmap);
	free(spec->passwd_entry);
	free(spec->group_entry);
	memset(spec, 0, sizeof(*spec));
}

/* hostname, hosts and resolv.conf of the container, in its directory. */
static int write_etc(struct store *s, const char *id, struct launch_spec *spec,
		     char **paths, struct strata_error **err)
{
	cleanup_close int dfd = store_container_dirfd(s, id, err);
	cleanup_free char *dir = store_container_path(s, id);
	cleanup_free char *hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
					     "ip6-loopback\n127.0.1.1\t%s\n",
					     spec->hostname);
	cleanup_free char *hn = xasprintf("%s\n", spec->hostname);
	cleanup_free char *resolv = NULL;
	size_t rlen = 0;

	if (dfd < 0)
		return -1;
	if (file_read_at(AT_FDCWD, "/etc/resolv.conf", 1 << 16, &resolv, &rlen, NULL) < 0) {
		resolv = xstrdup("");
		rlen = 0;
	}
	/*
	 * Made again at every start, so not synced: after a crash a torn copy
	 * is replaced before any container reads it (six fsyncs saved a start).
	 */
	if (file_write_replace_at(dfd, "hosts", hosts, strlen(hosts), 0644, err) < 0 ||
	    file_write_replace_at(dfd, "hostname", hn, strlen(hn), 0644, err) < 0 ||
	    file_write_replace_at(dfd, "resolv.conf", resolv, rlen, 0644, err) < 0)
		return -1;
	/* a container with its own map sees them as its root's, as it would its image's */
	if (spec->idmap) {
		unsigned u = 0, g = 0;

		idmap_to_outside(spec->idmap->uid, spec->idmap->n_uid, 0, &u);
		idmap_to_outside(spec->idmap->gid, spec->idmap->n_gid, 0, &g);
		if (fchownat(dfd, "hosts", u, g, 0) < 0 || fchownat(dfd, "hostname", u, g, 0) < 0 ||
		    fchownat(dfd, "resolv.conf", u, g, 0) < 0)
			return strata_fail(err, errno, "give the container's /etc files to its root");
	}
	paths[0] = path_join(dir, "hosts");
	paths[1] = path_join(dir, "hostname");
	paths[2] = path_join(dir, "resolv.conf");
	spec->hosts_file = paths[0];
	spec->hostname_file = paths[1];
	spec->resolv_file = paths[2];
	return 0;
}

static int save_state(struct store *s, const char *id, json_t *state, struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, err);

	if (!rec)
		return -1;
	json_object_set(rec, "State", state);
	return store_container_save(s, id, rec, err);
}

static char *now_rfc3339(void)
{
	int64_t ns = time_now_ns();

	return time_rfc3339(ns / 1000000000LL, (long)(ns % 1000000000LL));
}

/* Where a started container's stdio goes, and who is told when it has started. */
struct run_io {
	int out_fd, err_fd, in_fd;
	int notify_fd;	  /* -1: attached; otherwise the monitor's pipe to its caller */
	bool wait_client; /* with a terminal: its output waits for the first attach */
	unsigned short rows, cols; /* the terminal's first size (0: strata's stdin's) */
	bool proc_view;		   /* the container gets its own /proc view */
	const char *view_off;	   /* attached: why it has none, said once it has started */
};

/*
 * Whether container @rec gets the /proc view: asked for (the default, in
 * its run options and the store's settings) and /dev/fuse usable here. When it is not, *why (static) says why, for the
 * caller to say once the container has started (a failed start says its
 * own error alone).
 */
static bool view_wanted(struct store *s, const json_t *rec, const char **why)
{
	static char buf[256];
	struct launch_run_config rc;
	cleanup_json json_t *setting = store_setting_get(s, "ProcView");
	bool on;
	int fd;

	*why = NULL;
	launch_run_config_get(rec, &rc);
	/* --proc-view=false, or `strata config proc-view false` for the whole store */
	on = !rc.no_proc_view && !json_is_false(setting);
	launch_run_config_release(&rc);
	if (!on)
		return false;
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(buf, sizeof(buf), "the /proc view is off: open /dev/fuse: %s",
			 strerror(errno));
		*why = buf;
		return false;
	}
	close(fd);
	return true;
}

/* @spec's stdio, terminal and /proc view from @io (the view's server goes to *view). */
static void spec_set_io(struct launch_spec *spec, const struct run_io *io, bool tty,
			struct procview_server **view)
{
	spec->stdin_fd = io->in_fd;
	spec->stdout_fd = io->out_fd;
	spec->stderr_fd = io->err_fd;
	spec->tty_rows = io->rows;
	spec->tty_cols = io->cols;
	spec->forward_signals = true;
	spec->tty = tty;
	spec->proc_view = io->proc_view ? view : NULL;
}

/* The record's State of a container started at @started, its PID 1 @pid. */
static json_t *running_state(pid_t pid, const char *started, const struct launch_cgroup *cg,
			     const struct procview_server *view)
{
	json_t *state = json_pack("{s:s, s:i, s:I, s:s}", "Status", "running", "Pid", (json_int_t)pid,
				  "PidStartTime", (json_int_t)sys_pid_start_time(pid), "StartedAt",
				  started);

	if (cg)
		json_object_set_new(state, "Cgroup", launch_cgroup_to_json(cg));
	/* the view's server is this process: ps tells a dead one by it */
	if (view)
		json_object_set_new(state, "ProcView",
				    json_pack("{s:I, s:I}", "Pid", (json_int_t)getpid(),
					      "PidStartTime",
					      (json_int_t)sys_pid_start_time(getpid())));
	return state;
}

/* The whole life of a started container, in this process: returns its exit status. */
/* Fills the container's new volumes from its rootfs (and :U), where this process has it mounted. */
static int copy_up(struct store *s, const struct launch_spec *spec,
		   const struct overlay_rootfs *rootfs, struct strata_error **err)
{
	cleanup_close int rootfd = -1;

	if (!launch_mounts_need_prepare(spec))
		return 0;
	if (rootfs->backend) {
		/* mounted only inside the container's own namespaces (rootless) */
		for (size_t i = 0; i < spec->n_mounts; i++)
			if (spec->mounts[i].chown && !spec->mounts[i].tmpfs)
				return strata_fail_msg(err, ENOTSUP,
						       ":U needs the rootfs mounted by strata "
						       "(as root, or in a user namespace)");
		log_warn("volumes left empty: filling them from the image needs the rootfs mounted "
			 "by strata (as root, or in a user namespace); they fill at a later start "
			 "that has it");
		return 0;
	}
	rootfd = open(rootfs->merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return strata_fail(err, errno, "open the rootfs '%s'", rootfs->merged);
	return launch_mounts_prepare(s, spec, rootfd, err);
}

/* --rm: the container, then its anonymous volumes. */
static void remove_ended(struct store *s, const char *id, const json_t *rec)
{
	struct strata_error *e = NULL;

	if (overlay_container_remove(s, id, true, &e) < 0) {
		log_warn("--rm: %s", strata_error_msg(e));
		strata_error_free(e);
		return;
	}
	launch_volumes_remove_anonymous(s, rec);
}

/* True when a line of @text ("NAME:x:ID:...") has the name or the id of @entry's line. */
static bool entry_present(const char *text, const char *entry)
{
	size_t nlen = strcspn(entry, ":");
	const char *c = strchr(entry, ':');
	const char *idp = c ? strchr(c + 1, ':') : NULL;
	size_t ilen = idp ? strcspn(idp + 1, ":") : 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *lc = strchr(l, ':');
		const char *lid = lc ? strchr(lc + 1, ':') : NULL;

		if (!strncmp(l, entry, nlen) && l[nlen] == ':')
			return true;
		if (idp && lid && !strncmp(lid + 1, idp + 1, ilen) && lid[1 + ilen] == ':')
			return true;
	}
	return false;
}

/*
 * keep-id: the user's line in the container's /etc/passwd (and its group
 * in /etc/group) when the image lacks it, as podman adds it: a copy of the
 * file with the line, in the container's dir, bound over the image's, so
 * that nothing of it reaches the upper dir (nor a commit).
 */
static int add_user_entry(struct store *s, const char *id, struct launch_spec *spec, int rootfd,
			  const char *file, const char *entry, struct strata_error **err)
{
	cleanup_close int dfd = store_container_dirfd(s, id, err);
	cleanup_close int fd = -1;
	cleanup_free char *text = NULL;
	cleanup_free char *name = xasprintf("etc/%s", file);
	cleanup_free char *out = NULL;
	cleanup_free char *dir = store_container_path(s, id);
	unsigned u = 0, g = 0;
	struct launch_mount *m;
	size_t len = 0;

	if (dfd < 0)
		return -1;
	fd = path_open_in(rootfd, name, O_RDONLY, 0, NULL);
	if (fd >= 0 && file_read_fd(fd, 1 << 22, &text, &len, err) < 0)
		return -1;
	if (text && entry_present(text, entry))
		return 0;
	out = xasprintf("%s%s%s\n", text ? text : "", len && text[len - 1] != '\n' ? "\n" : "",
			entry);
	idmap_to_outside(spec->idmap->uid, spec->idmap->n_uid, 0, &u);
	idmap_to_outside(spec->idmap->gid, spec->idmap->n_gid, 0, &g);
	if (file_write_replace_at(dfd, file, out, strlen(out), 0644, err) < 0)
		return -1;
	if (fchownat(dfd, file, u, g, 0) < 0)
		return strata_fail(err, errno, "give the container's /%s to its root", name);
	spec->mounts = xrealloc(spec->mounts, (spec->n_mounts + 1) * sizeof(*spec->mounts));
	m = &spec->mounts[spec->n_mounts++];
	memset(m, 0, sizeof(*m));
	m->source = path_join(dir, file);
	m->destination = xasprintf("/%s", name);
	return 0;
}

static int add_user_entries(struct store *s, const char *id, struct launch_spec *spec,
			    const char *merged, struct strata_error **err)
{
	cleanup_close int rootfd = -1;

	if (!spec->idmap || (!spec->passwd_entry && !spec->group_entry))
		return 0;
	rootfd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return strata_fail(err, errno, "open the rootfs");
	if (spec->passwd_entry &&
	    add_user_entry(s, id, spec, rootfd, "passwd", spec->passwd_entry, err) < 0)
		return -1;
	if (spec->group_entry &&
	    add_user_entry(s, id, spec, rootfd, "group", spec->group_entry, err) < 0)
		return -1;
	return 0;
}

static int run_here(struct store *s, const char *id, json_t *rec, const struct run_io *io,
		    int *status, struct strata_error **err)
{
	int out_fd = io->out_fd, notify_fd = io->notify_fd;
	struct launch_spec spec;
	struct launch_limits limits;
	struct launch_cgroup *cg = NULL;
	char *etc[3] = { NULL, NULL, NULL };
	struct overlay_rootfs rootfs = { 0 };
	cleanup_json json_t *state = NULL;
	cleanup_free char *started = NULL;
	cleanup_free char *finished = NULL;
	struct launch_run_config rc;
	struct attach_server *srv = NULL;
	struct procview_server *view = NULL;
	bool auto_remove, tty, held = false;
	int master = -1, listen_fd = -1, *vol_held = NULL;
	sigset_t mask;
	pid_t pid;
	int ret = -1;

	/* the view's library loads while the rootfs and the cgroup are made (launch_spawn waits) */
	if (io->proc_view)
		procview_fuse_preload();
	launch_run_config_get(rec, &rc);
	auto_remove = rc.auto_remove;
	tty = rc.tty;
	launch_run_config_release(&rc);
	if (launch_spec_from_record(rec, &spec, &limits, err) < 0)
		return -1;
	spec_set_io(&spec, io, tty, &view);
	if (write_etc(s, id, &spec, etc, err) < 0)
		goto out_spec;
	/* Detached with a terminal: this monitor holds it for `attach`. */
	if (spec.tty && notify_fd >= 0) {
		cleanup_close int dfd = store_container_dirfd(s, id, err);

		if (dfd < 0 || (listen_fd = launch_attach_listen(dfd, err)) < 0)
			goto out_spec;
	}
	if (overlay_container_rootfs(s, id, &rootfs, err) < 0)
		goto out_spec;
	/* keep-id's binds before vol_held is sized; option volumes before the copy-up fills them */
	if (add_user_entries(s, id, &spec, rootfs.merged, err) < 0 ||
	    launch_volumes_mount(s, &spec, &vol_held, err) < 0 || copy_up(s, &spec, &rootfs, err) < 0)
		goto out_umount;
	limits.io_stats = io->proc_view; /* the view's diskstats */
	if (launch_cgroup_open(CG_MNT, "/proc/self/cgroup", id, &limits, sys_is_host_root(), &cg,
			       err) < 0)
		goto out_umount;
	spec.cgroup = cg;
	spec.rootfs_backend = rootfs.backend;
	spec.rootfs_stack = rootfs.backend ? &rootfs.stack : NULL;
	/*
	 * A signal to us from the moment PID 1 may run waits for the wait that
	 * forwards it (a monitor serving attach forwards none).
	 */
	held = listen_fd < 0;
	launch_signals_hold(held, &mask);
	if (launch_spawn(rootfs.merged, &spec, &pid, &master, err) < 0)
		goto out_cgroup;
	started = now_rfc3339();
	state = running_state(pid, started, cg, view);
	if (save_state(s, id, state, err) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out_cgroup;
	}
	if (io->view_off)
		log_warn("%s", io->view_off);
	if (notify_fd >= 0) {
		if (write(notify_fd, "", 1) < 0)
			log_debug("monitor: caller gone");
		close(notify_fd);
	}
	if (listen_fd >= 0) {
		srv = launch_attach_server_new(master, out_fd, listen_fd);
		/* run -it: the caller attaches at once; nothing may be written before it has */
		if (io->wait_client)
			launch_attach_server_accept(srv, 10000);
		*status = launch_attach_server_run(srv, pid);
	} else {
		*status =
		    master >= 0 ? launch_tty_relay_wait(pid, master, true) : launch_wait(pid, true);
	}
	finished = now_rfc3339();
	/* before the record says exited: who waits for that (stop, rm -f) finds the volumes free */
	launch_volumes_unmount(s, &spec, &vol_held);
	json_decref(state);
	state = json_pack("{s:s, s:i, s:i, s:s, s:s}", "Status", "exited", "Pid", 0, "ExitCode",
			  (json_int_t)*status, "StartedAt", started, "FinishedAt", finished);
	ret = 0;
	if (save_state(s, id, state, err) < 0)
		ret = -1;
out_cgroup:
	/* the container's mounts are gone with it: the server has no reader left */
	procview_server_free(view);
	launch_cgroup_destroy(cg);
out_umount:
	launch_volumes_unmount(s, &spec, &vol_held);
	if (rootfs.counted)
		overlay_container_umount(s, id, true, NULL);
	overlay_rootfs_release(&rootfs);
	if (auto_remove && ret == 0)
		remove_ended(s, id, rec);
	/* the clients learn the status once the record says it (or is gone, --rm) */
	launch_attach_server_end(srv, *status);
out_spec:
	if (listen_fd >= 0) {
		cleanup_close int dfd = store_container_dirfd(s, id, NULL);

		close(listen_fd);
		if (dfd >= 0)
			unlinkat(dfd, "attach", 0);
	}
	if (master >= 0)
		close(master);
	for (int i = 0; i < 3; i++)
		free(etc[i]);
	launch_spec_free(&spec);
	/* last: one that came after the wait ends us only once all is cleaned up */
	launch_signals_release(held, &mask);
	return ret;
}

/*
 * Starts the monitor of container @id (record @rec): a process in its own
 * session that runs it with its output in the log (or, with a terminal,
 * serves attach); returns once PID 1 has exec'd or failed.
 */
static int start_monitor(struct store *s, const char *id, json_t *rec, const struct run_io *req,
			 struct strata_error **err)
{
	cleanup_free char *log = launch_container_log_path(s, id);
	int notify[2];
	pid_t mon;
	char buf[2048];
	ssize_t n, got = 0;

	if (pipe2(notify, O_CLOEXEC) < 0)
		return strata_fail(err, errno, "pipe");
	fflush(NULL);
	mon = fork();
	if (mon < 0)
		return strata_fail(err, errno, "fork the monitor");
	if (mon == 0) {
		struct strata_error *e = NULL;
		int lfd, st = 0;

		close(notify[0]);
		setsid();
		signal(SIGHUP, SIG_IGN);
		lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (lfd < 0) {
			strata_fail(&e, errno, "open the log %s", log);
		} else {
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			struct run_io io = *req;

			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
				dup2(null, 2);
			}
			io.out_fd = io.err_fd = lfd;
			io.in_fd = -1;
			io.notify_fd = notify[1];
			if (run_here(s, id, rec, &io, &st, &e) == 0)
				_exit(0);
		}
		{
			/* "ERRNO message": the caller's error has the same cause */
			cleanup_free char *m = xasprintf("%d %s", strata_error_code(e),
							 strata_error_msg(e));

			if (write(notify[1], m, strlen(m)) < 0)
				_exit(1);
		}
		_exit(1);
	}
	close(notify[1]);
	while ((n = read(notify[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	close(notify[0]);
	/* One NUL byte: started. Text: the monitor's error. Nothing: it died. */
	if (got == 1 && buf[0] == '\0')
		return 0;
	if (got > 0) {
		char *msg;
		long code;

		buf[got] = '\0';
		waitpid(mon, NULL, 0);
		code = strtol(buf[0] ? buf : buf + 1, &msg, 10);
		return strata_fail_msg(err, code > 0 ? (int)code : EIO, "%s",
				       *msg == ' ' ? msg + 1 : msg);
	}
	waitpid(mon, NULL, 0);
	return strata_fail_msg(err, EIO, "the container's monitor ended before it started");
}

int launch_container_start(struct store *s, const char *id, bool attach, int *status,
			   struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, err);
	struct run_io io = { 1, 2, -1, -1, false, 0, 0, false, NULL };
	const char *why;

	if (!rec)
		return -1;
	if (launch_container_running(rec))
		return strata_fail_msg(err, EBUSY, "container '%.12s' is already running", id);
	*status = 0;
	io.proc_view = view_wanted(s, rec, &why);
	if (attach) {
		struct launch_run_config rc;

		launch_run_config_get(rec, &rc);
		if (rc.interactive)
			io.in_fd = 0;
		launch_run_config_release(&rc);
		io.view_off = why;
		return run_here(s, id, rec, &io, status, err);
	}
	if (start_monitor(s, id, rec, &io, err) < 0)
		return -1;
	if (why)
		log_warn("%s", why);
	return 0;
}

int launch_container_run_attached(struct store *s, const char *id, const char *detach_keys,
				  int *status, bool *detached, struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, err);
	struct run_io io = { 1, 2, -1, -1, true, 0, 0, false, NULL };
	const char *why;
	struct winsize ws;

	*status = 0;
	*detached = false;
	if (!rec)
		return -1;
	if (launch_container_running(rec))
		return strata_fail_msg(err, EBUSY, "container '%.12s' is already running", id);
	if (!launch_container_has_tty(rec))
		return strata_fail_msg(err, EINVAL, "container '%.12s' has no terminal", id);
	if (launch_detach_keys_parse(detach_keys ? detach_keys : LAUNCH_DETACH_KEYS,
				     (char[LAUNCH_DETACH_KEYS_MAX]){ 0 }, &(size_t){ 0 }, err) < 0)
		return -1;
	/* the monitor's terminal starts with our size, before the process reads it */
	if (ioctl(0, TIOCGWINSZ, &ws) == 0) {
		io.rows = ws.ws_row;
		io.cols = ws.ws_col;
	}
	io.proc_view = view_wanted(s, rec, &why);
	if (start_monitor(s, id, rec, &io, err) < 0)
		return -1;
	if (why)
		log_warn("%s", why);
	return launch_container_attach(s, id, detach_keys, status, detached, err);
}

static pid_t running_pid(struct store *s, const char *id, json_t **rec_out,
			 struct strata_error **err)
{
	json_t *rec = store_container_load(s, id, err);

	if (!rec)
		return -1;
	if (!launch_container_running(rec)) {
		json_decref(rec);
		return strata_fail_msg(err, EINVAL, "container '%.12s' is not running", id);
	}
	if (rec_out)
		*rec_out = rec;
	else
		json_decref(rec);
	return 0;
}

/*
 * The host pid of the container's PID 1, or 0 when the record holds none
 * that may be signalled: 0, 1 and negative pids mean a process group,
 * init, or every process, never one container's process.
 */
static pid_t state_pid(const json_t *rec)
{
	json_int_t pid = jv_int(json_object_get(rec, "State"), "Pid", 0);

	return pid > 1 && pid <= INT32_MAX ? (pid_t)pid : 0;
}

int launch_container_kill(struct store *s, const char *id, int sig, struct strata_error **err)
{
	cleanup_json json_t *rec = NULL;

	if (running_pid(s, id, &rec, err) < 0)
		return -1;
	if (state_pid(rec) == 0)
		return strata_fail_msg(err, ESRCH, "container '%.12s': its record holds no process",
				       id);
	if (kill(state_pid(rec), sig) < 0)
		return strata_fail(err, errno, "signal container '%.12s'", id);
	return 0;
}

/* Waits until the record says exited (the monitor or the attached process writes it). */
static int wait_exited(struct store *s, const char *id, int64_t timeout_ms, int *code,
		       struct strata_error **err)
{
	for (int64_t waited = 0;; waited += 20) {
		cleanup_json json_t *rec = store_container_load(s, id, NULL);
		json_t *st = rec ? json_object_get(rec, "State") : NULL;
		const char *status = jv_str(st, "Status");

		if (!rec) {
			/* removed (--rm): it has exited */
			if (code)
				*code = 0;
			return 1;
		}
		if (!status || strcmp(status, "running")) {
			if (code)
				*code = (int)jv_int(st, "ExitCode", 0);
			return 0;
		}
		if (!state_alive(st) && waited > 2000) {
			if (code)
				*code = 137;
			return 0; /* its monitor died too */
		}
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return strata_fail_msg(err, ETIMEDOUT, "container '%.12s' is still running",
					       id);
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
}

int launch_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "HUP", SIGHUP },	  { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
		     { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "STOP", SIGSTOP },
		     { "CONT", SIGCONT }, { "ALRM", SIGALRM }, { "PIPE", SIGPIPE }, { "WINCH", SIGWINCH } };
	char *end;
	long n;

	if (!s || !*s)
		return -1;
	n = strtol(s, &end, 10);
	if (!*end)
		return n > 0 && n < 65 ? (int)n : -1;
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		if (!strcasecmp(s, sigs[i].name))
			return sigs[i].sig;
	return -1;
}

int launch_container_stop(struct store *s, const char *id, int timeout, struct strata_error **err)
{
	cleanup_json json_t *rec = store_container_load(s, id, err);
	struct launch_run_config rc;
	const char *ss;
	int sig = SIGTERM;
	pid_t pid;

	if (!rec)
		return -1;
	if (!launch_container_running(rec))
		return 0; /* docker: stopping a stopped container is fine */
	launch_run_config_get(rec, &rc);
	ss = rc.stop_signal ? rc.stop_signal : jv_str(json_object_get(rec, "Config"), "StopSignal");
	if (ss && launch_signal_parse(ss) > 0)
		sig = launch_signal_parse(ss);
	launch_run_config_release(&rc);
	pid = state_pid(rec);
	if (pid > 0) {
		kill(pid, sig);
		for (int i = 0; i < timeout * 50 && sys_pid_alive(pid); i++)
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		if (sys_pid_alive(pid))
			kill(pid, SIGKILL);
	}
	return wait_exited(s, id, 10000, NULL, err) < 0 ? -1 : 0;
}

int launch_container_wait(struct store *s, const char *id, int *code, struct strata_error **err)
{
	return wait_exited(s, id, -1, code, err) < 0 ? -1 : 0;
}

static struct launch_cgroup *state_cgroup(const json_t *rec, struct strata_error **err)
{
	struct launch_cgroup *cg =
		launch_cgroup_from_json(json_object_get(json_object_get(rec, "State"), "Cgroup"));

	if (!cg)
		strata_fail_msg(err, ENODEV, "the running container has no cgroup to %s",
				"freeze or read (commit with --pause=false)");
	return cg;
}

static int freeze(struct store *s, const char *id, bool frozen, struct strata_error **err)
{
	cleanup_json json_t *rec = NULL;
	struct launch_cgroup *cg;
	int r;

	if (running_pid(s, id, &rec, err) < 0)
		return -1;
	cg = state_cgroup(rec, err);
	if (!cg)
		return -1;
	r = launch_cgroup_freeze(cg, frozen, err);
	launch_cgroup_free(cg);
	return r;
}

int launch_container_freeze(struct store *s, const char *id, struct strata_error **err)
{
	return freeze(s, id, true, err);
}

int launch_container_thaw(struct store *s, const char *id, struct strata_error **err)
{
	return freeze(s, id, false, err);
}

int launch_container_stats(struct store *s, const char *id, struct launch_stats *st,
			   struct strata_error **err)
{
	cleanup_json json_t *rec = NULL;
	struct launch_cgroup *cg;
	int r;

	if (running_pid(s, id, &rec, err) < 0)
		return -1;
	cg = state_cgroup(rec, err);
	if (!cg)
		return -1;
	r = launch_cgroup_stats(cg, st, err);
	launch_cgroup_free(cg);
	return r;
}

int launch_container_exec(struct store *s, const char *id, const struct launch_spec *spec,
			  int *status, struct strata_error **err)
{
	cleanup_json json_t *rec = NULL;
	struct launch_cgroup *cg;
	int r;

	if (running_pid(s, id, &rec, err) < 0)
		return -1;
	cg = launch_cgroup_from_json(json_object_get(json_object_get(rec, "State"), "Cgroup"));
	r = launch_exec(state_pid(rec), cg, spec, status, err);
	launch_cgroup_free(cg);
	return r;
}
