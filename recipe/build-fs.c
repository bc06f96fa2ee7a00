/*
 * The steps that change the filesystem: RUN, COPY, ADD, WORKDIR. Each runs
 * in a working container of the stage's current image (overlay's create
 * and mount), then the container's change is packed into one layer
 * (overlay_container_pack) and a new image is written with it; the
 * container goes. RUN is launch_run in the merged rootfs with the image's
 * Env (plus the ARGs in scope), User, WorkingDir and Shell, the build's
 * network, and no capabilities beyond Docker's default set; VOLUME's
 * directories are made first, and the mount points the launcher makes
 * (/etc/hosts, /etc/resolv.conf, /etc/hostname, /proc, /sys, /dev) are
 * removed after it, so they never reach a layer. A WORKDIR that changes
 * nothing (the directory exists) gets no layer, only history.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch.h"
#include "overlay/overlay.h"
#include "recipe/recipe-int.h"

/* RUN's environment: the config's Env, then the ARGs in scope that Env does not set. */
static char **run_env(const struct stage_state *ss, const json_t *cc)
{
	char **env = jv_to_strv(json_object_get(cc, "Env"));

	for (size_t i = 0; ss->vars.args && ss->vars.args[i]; i++) {
		const char *eq = strchr(ss->vars.args[i], '=');
		bool set = false;

		if (!eq)
			continue;
		for (size_t k = 0; env && env[k]; k++)
			if (!strncmp(env[k], ss->vars.args[i], (size_t)(eq - ss->vars.args[i]) + 1))
				set = true;
		if (!set)
			strv_append(&env, ss->vars.args[i]);
	}
	return env;
}

/* True when @cmd is only a heredoc operator ("<<EOF", "<<-'EOT'"). */
static bool heredoc_only(const char *cmd)
{
	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	if (strncmp(cmd, "<<", 2))
		return false;
	cmd += 2;
	if (*cmd == '-')
		cmd++;
	cmd += strspn(cmd, "'\"");
	cmd += strspn(cmd, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
	cmd += strspn(cmd, "'\"");
	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	return *cmd == '\0';
}

/*
 * What the launcher makes in a rootfs only to mount over (RUN's /etc/hosts,
 * /etc/resolv.conf, /etc/hostname, /proc, /sys, /dev): none of it belongs
 * in the step's layer, as with podman and docker.
 */
static const char *const run_stubs[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf",
					"run/.containerenv", "dev", "proc", "sys"};

/* A bit per run_stubs entry that @rootfd lacks. */
static unsigned stubs_absent(int rootfd)
{
	unsigned absent = 0;

	for (size_t i = 0; i < ARRAY_SIZE(run_stubs); i++) {
		cleanup_free char *owner = NULL;
		const char *base;
		cleanup_close int dfd = path_open_parent_in(rootfd, run_stubs[i], false, &owner, &base,
							     NULL);
		struct stat st;

		if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			absent |= 1u << i;
	}
	return absent;
}

/* Removes the stubs of @absent that RUN left as they were made: empty files and directories. */
static int stubs_remove(int rootfd, unsigned absent, struct strata_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(run_stubs); i++) {
		cleanup_free char *owner = NULL;
		const char *base;
		cleanup_close int dfd = -1;
		struct stat st;

		if (!(absent & (1u << i)))
			continue;
		dfd = path_open_parent_in(rootfd, run_stubs[i], false, &owner, &base, NULL);
		if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_size == 0 && unlinkat(dfd, base, 0) < 0)
			return strata_fail(err, errno, "remove the mount point '/%s'", run_stubs[i]);
		if (S_ISDIR(st.st_mode) && unlinkat(dfd, base, AT_REMOVEDIR) < 0 &&
		    errno != ENOTEMPTY && errno != EEXIST)
			return strata_fail(err, errno, "remove the mount point '/%s'", run_stubs[i]);
	}
	return 0;
}

/*
 * RUN steps get the container's /proc view (their own uptime, loadavg,
 * cpu and memory files) unless the store's setting turns it off; where
 * /dev/fuse cannot be opened, the build says so once and runs without it.
 */
static bool run_view(struct builder *b)
{
	if (!b->proc_view) {
		cleanup_json json_t *setting = store_setting_get(b->s, "ProcView");
		int fd = json_is_false(setting) ? -2 : open("/dev/fuse", O_RDWR | O_CLOEXEC);

		if (fd == -1)
			log_warn("the /proc view is off in RUN steps: open /dev/fuse: %s",
				 strerror(errno));
		if (fd >= 0)
			close(fd);
		b->proc_view = fd >= 0 ? 1 : -1;
	}
	return b->proc_view > 0;
}

/*
 * VOLUME's directories exist before RUN, as with docker and buildah, and
 * what RUN writes into an empty one is discarded (a tmpfs over it), as the
 * Dockerfile reference says; a volume that holds files keeps RUN's changes.
 */
static int make_volumes(const json_t *cc, int rootfd, struct launch_spec *spec,
			struct strata_error **err)
{
	const char *path;
	json_t *v;

	json_object_foreach((json_t *)json_object_get(cc, "Volumes"), path, v) {
		int fd = path_mkdirs_owned_in(rootfd, path, 0755, (uid_t)-1, (gid_t)-1, err);
		cleanup_close int dfd = -1;
		cleanup_dir DIR *d = NULL;
		struct dirent *de;
		bool empty = true;

		if (fd < 0)
			return strata_wrap(err, "VOLUME '%s'", path);
		dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		if (dfd < 0 || !(d = fdopendir(dfd)))
			return strata_fail(err, errno, "VOLUME '%s'", path);
		dfd = -1;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				empty = false;
		if (!empty)
			continue;
		spec->mounts = xrealloc(spec->mounts, (spec->n_mounts + 1) * sizeof(*spec->mounts));
		spec->mounts[spec->n_mounts++] =
		    (struct launch_mount){ .destination = xstrdup(path), .tmpfs = true };
	}
	return 0;
}

static int do_run(struct builder *b, struct stage_state *ss, const struct recipe_instr *x,
		  const char *merged, int rootfd, struct strata_error **err)
{
	unsigned absent;
	json_t *cc = json_object_get(ss->config, "config");
	const char *net = recipe_instr_flag(x, "network");
	struct launch_spec spec = { 0 };
	struct launch_cgroup *cg = NULL;
	struct procview_server *view = NULL;
	int status = 0, r;
	int devnull = -1;

	if (x->is_json) {
		spec.argv = strv_dup(x->args);
	} else {
		struct sbuf script = SBUF_INIT;

		spec.argv = recipe_config_shell(ss->config);
		for (size_t i = 0; x->args && x->args[i]; i++)
			sbuf_addf(&script, "%s%s", i ? " " : "", x->args[i]);
		if (x->n_heredocs == 1 && heredoc_only(script.buf ? script.buf : "")) {
			/* RUN <<EOF alone: the heredoc is the script */
			sbuf_release(&script);
			sbuf_addstr(&script, x->heredocs[0].content);
		} else {
			/* the command line, then each heredoc's body and delimiter, as a shell reads them */
			for (size_t i = 0; i < x->n_heredocs; i++)
				sbuf_addf(&script, "\n%s%s", x->heredocs[i].content, x->heredocs[i].name);
		}
		{
			char *text = sbuf_detach(&script, NULL);

			strv_append(&spec.argv, text ? text : "");
			free(text);
		}
	}
	if (!spec.argv || !spec.argv[0]) {
		strv_free(spec.argv);
		return strata_fail_msg(err, EINVAL, "RUN has no command");
	}
	spec.env = run_env(ss, cc);
	spec.cwd = jv_str(cc, "WorkingDir");
	spec.user = jv_str(cc, "User");
	if (spec.user && !*spec.user)
		spec.user = NULL;
	spec.hostname = "strata-build";
	spec.host_network = !strcmp(net && strcmp(net, "default") ? net : b->o->network, "host");
	if (spec.host_network) {
		spec.resolv_file = access("/etc/resolv.conf", R_OK) == 0 ? "/etc/resolv.conf" : NULL;
		spec.hosts_file = access("/etc/hosts", R_OK) == 0 ? "/etc/hosts" : NULL;
	}
	if (b->o->run_stdout < 0 || b->o->run_stderr < 0)
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	spec.stdin_fd = -1;
	spec.stdout_fd = b->o->run_stdout >= 0 ? b->o->run_stdout : devnull;
	spec.stderr_fd = b->o->run_stderr >= 0 ? b->o->run_stderr : devnull;
	spec.forward_signals = true;
	absent = stubs_absent(rootfd);
	r = make_volumes(cc, rootfd, &spec, err);
	if (r == 0)
		r = recipe_run_mounts_setup(b, &b->run, rootfd, &spec, err);
	/*
	 * A cgroup of its own, as a container's: it holds the device policy
	 * (as root a RUN step keeps CAP_MKNOD, and could otherwise open any
	 * host device it makes).
	 */
	if (r == 0) {
		cleanup_free char *name = xasprintf("build-%d-%lld", (int)getpid(),
						     (long long)time_now_ns());

		struct launch_limits none = { .io_stats = run_view(b) };

		r = launch_cgroup_open("/sys/fs/cgroup", "/proc/self/cgroup", name, &none,
				       sys_is_host_root(), &cg, err);
	}
	spec.cgroup = cg;
	spec.die_with_parent = true; /* the build killed, its RUN dies with it */
	spec.proc_view = run_view(b) ? &view : NULL;
	if (r == 0)
		r = launch_run(merged, &spec, &status, err);
	procview_server_free(view);
	launch_cgroup_destroy(cg);
	/* caches unlocked, sources unmounted, secrets gone: before the commit */
	if (r == 0)
		r = recipe_run_mounts_unstub(&b->run, rootfd, err);
	recipe_run_mounts_release(b, &b->run);
	if (r == 0)
		r = stubs_remove(rootfd, absent, err);
	if (devnull >= 0)
		close(devnull);
	if (r == 0 && status != 0) {
		struct sbuf cmd = SBUF_INIT;

		for (size_t i = 0; spec.argv[i]; i++)
			sbuf_addf(&cmd, "%s%s", i ? " " : "", spec.argv[i]);
		strata_fail_msg(err, EIO, "RUN: command '%s' returned a non-zero code: %d", cmd.buf,
				status);
		sbuf_release(&cmd);
		r = -1;
	} else if (r < 0) {
		strata_wrap(err, "RUN");
	}
	strv_free(spec.argv);
	strv_free(spec.env);
	for (size_t i = 0; i < spec.n_mounts; i++) {
		free(spec.mounts[i].source);
		free(spec.mounts[i].destination);
	}
	free(spec.mounts);
	return r;
}

/* The rootfs COPY --from reads: an earlier stage's image or a named one, mounted read-only. */
static int open_from(struct builder *b, const struct copy_job *job, char **mounted_id,
		     struct strata_error **err)
{
	const struct store_image *img =
		job->from_stage >= 0 ? b->ss[job->from_stage].img : job->from;
	cleanup_free char *merged = NULL;
	int fd;

	*mounted_id = NULL;
	if (!img) {
		/* a scratch stage with no step: an empty rootfs */
		return strata_fail_msg(err, ENOENT, "COPY --from: the stage has no filesystem");
	}
	if (overlay_image_mount(b->s, b->o->backend, img, &merged, err) < 0)
		return -1;
	*mounted_id = xstrdup(img->id);
	fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		strata_fail(err, errno, "open '%s'", merged);
		overlay_image_umount(b->s, b->o->backend, img->id, false, NULL);
		free(*mounted_id);
		*mounted_id = NULL;
	}
	return fd;
}

static int do_copy(struct builder *b, struct stage_state *ss, const struct recipe_instr *x,
		   struct copy_job *job, int rootfd, struct strata_error **err)
{
	json_t *cc = json_object_get(ss->config, "config");
	const char *wd = jv_str(cc, "WorkingDir");
	cleanup_free char *from_id = NULL;
	int srcfd = job->has_src_fd ? job->src_fd : b->ctxfd;
	int r;

	if (job->from_stage >= 0 || job->from) {
		srcfd = open_from(b, job, &from_id, err);
		if (srcfd < 0)
			return -1;
		/* --from sources are found in that rootfs, now that it is mounted */
		if (job->patterns[0] && !job->local.n_matched) {
			free(job->local.matched); /* the collect below fills it */
			job->local.matched = NULL;
			const char *from = recipe_instr_flag(x, "from");
			cleanup_free char *where =
			    job->from_stage >= 0 ? xasprintf("stage '%s'", from)
						 : xasprintf("image '%s'", from);

			if (recipe_sources_collect_in(srcfd, job->patterns, where, &job->local, err) <
			    0) {
				close(srcfd);
				overlay_image_umount(b->s, b->o->backend, from_id, false, NULL);
				return strata_wrap(err, "%s --from", recipe_cmd_name(x->cmd));
			}
			job->n_items = job->local.n_matched + job->n_docs + strv_len(job->urls);
		}
	}
	r = recipe_copy_into(job, x, rootfd, srcfd, wd && *wd ? wd : "/", b->o->timestamp, err);
	if (from_id) {
		close(srcfd);
		overlay_image_umount(b->s, b->o->backend, from_id, false, NULL);
	}
	return r;
}

static int do_workdir(json_t *config, const struct recipe_instr *x, const char *file, int rootfd,
		      struct strata_error **err)
{
	bool cmd_set = false;
	const char *wd, *user;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int fd;

	if (recipe_config_apply(config, x, file, &cmd_set, err) < 0)
		return -1;
	wd = jv_str(json_object_get(config, "config"), "WorkingDir");
	if (!wd || !*wd)
		return 0;
	fd = path_open_in(rootfd, wd, O_PATH | O_DIRECTORY, 0, NULL);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	/* The directories WORKDIR makes belong to the USER in effect, as with docker and buildah. */
	user = jv_str(json_object_get(config, "config"), "User");
	if (user && *user && recipe_copy_parse_chown(rootfd, user, &uid, &gid, err) < 0)
		return strata_wrap(err, "WORKDIR");
	fd = path_mkdirs_owned_in(rootfd, wd, 0755, uid, gid, err);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Packs the working container's change and writes the stage's next image with it. */
static int commit_work(struct builder *b, struct stage_state *ss, json_t *config,
		       const struct recipe_instr *x, bool may_be_empty, const char *created_by,
		       struct strata_error **err)
{
	struct layers_pack_opts po = { b->o->compression, 0, b->o->timestamp, NULL, NULL };
	cleanup_free char *by = NULL;
	struct layers_blob blob;
	size_t n_changes = 1;
	int r;

	if (overlay_container_umount(b->s, b->work_id, false, err) < 0)
		return -1;
	/* gc must keep the blob until the image names it */
	if (store_pin(b->s, err) < 0)
		return -1;
	if (overlay_container_pack(b->s, b->work_id, &po, &blob, may_be_empty ? &n_changes : NULL,
				   err) < 0) {
		store_unpin(b->s);
		return -1;
	}
	recipe_build_set_created(b, config);
	if (n_changes)
		store_config_add_diff_id(config, blob.diff_id);
	by = created_by ? xstrdup(created_by) : recipe_history_created_by(config, x);
	store_config_add_history(config, b->o->timestamp, by, NULL, NULL, n_changes == 0);
	r = recipe_build_write_image(b, ss, config, n_changes ? &blob : NULL, err);
	store_unpin(b->s);
	return r;
}

int recipe_build_fs_step(struct builder *b, size_t stage, const struct recipe_instr *x,
			 struct copy_job *job, struct strata_error **err)
{
	struct stage_state *ss = &b->ss[stage];
	cleanup_json json_t *config = json_deep_copy(ss->config);
	cleanup_close int rootfd = -1;
	bool squash = !b->o->layers;
	int r;

	/* With --layers one container per step; without, one per stage, committed at its end. */
	if (!b->work_id) {
		char id[STORE_ID_LEN + 1];

		if (overlay_container_create(b->s, b->o->backend, ss->img, NULL, NULL,
					     OVERLAY_CREATE_BUILD, id, err) < 0)
			return -1;
		b->work_id = xstrdup(id);
		if (overlay_container_mount(b->s, id, &b->work_merged, err) < 0)
			goto fail;
	}
	rootfd = open(b->work_merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		strata_fail(err, errno, "open '%s'", b->work_merged);
		goto fail;
	}
	if (x->cmd == RECIPE_RUN)
		r = do_run(b, ss, x, b->work_merged, rootfd, err);
	else if (x->cmd == RECIPE_COPY || x->cmd == RECIPE_ADD)
		r = do_copy(b, ss, x, job, rootfd, err);
	else if (x->cmd == RECIPE_WORKDIR)
		r = do_workdir(config, x, b->file->name, rootfd, err);
	else
		r = strata_fail_msg(err, EINVAL, "%s changes no filesystem", recipe_cmd_name(x->cmd));
	close(rootfd);
	rootfd = -1;
	if (r < 0)
		goto fail;
	if (squash) {
		/* the change waits in the working container; the history says where it went */
		cleanup_free char *by = recipe_history_created_by(config, x);

		recipe_build_set_created(b, config);
		store_config_add_history(config, b->o->timestamp, by, "squashed into the stage's layer",
					 NULL, true);
		return recipe_build_write_image(b, ss, config, NULL, err);
	}
	r = commit_work(b, ss, config, x, x->cmd == RECIPE_WORKDIR, NULL, err);
	recipe_build_fs_release(b);
	return r;
fail:
	recipe_build_fs_release(b);
	return -1;
}

int recipe_build_stage_done(struct builder *b, size_t stage, struct strata_error **err)
{
	struct stage_state *ss = &b->ss[stage];
	cleanup_json json_t *config = NULL;
	int r;

	if (!b->work_id)
		return 0;
	config = json_deep_copy(ss->config);
	r = commit_work(b, ss, config, NULL, false,
			"/bin/sh -c #(nop) the stage's changes in one layer (--layers=false)", err);
	recipe_build_fs_release(b);
	return r;
}

int recipe_build_squash_layer(struct builder *b, const struct store_image *base,
			      const struct store_image *img, struct layers_blob *out,
			      struct strata_error **err)
{
	struct layers_pack_opts po = { b->o->compression, 0, b->o->timestamp, NULL, NULL };
	size_t k = base ? base->manifest->n_layers : 0;
	cleanup_close int rootfd = -1;
	char id[STORE_ID_LEN + 1];
	int r = -1;

	/*
	 * The layers after the base are applied, whiteouts as deletions, in a
	 * working container of the base: its upper dir is their sum as one
	 * layer, whiteouts where they hide the base's files.
	 */
	if (overlay_container_create(b->s, b->o->backend, base, NULL, NULL, OVERLAY_CREATE_BUILD,
				     id, err) < 0)
		return -1;
	b->work_id = xstrdup(id);
	if (overlay_container_mount(b->s, id, &b->work_merged, err) < 0)
		goto out;
	rootfd = open(b->work_merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		strata_fail(err, errno, "open '%s'", b->work_merged);
		goto out;
	}
	for (size_t i = k; i < img->manifest->n_layers; i++) {
		struct layers_unpack_stats st;
		int fd = store_blob_open(b->s, img->manifest->layers[i].digest, err);

		if (fd < 0)
			goto out;
		r = layers_unpack(fd, rootfd, LAYERS_WHITEOUT_VFS, NULL, &st, err);
		close(fd);
		if (r < 0) {
			strata_wrap(err, "layer %zu", i + 1);
			goto out;
		}
		r = -1;
	}
	close(rootfd);
	rootfd = -1;
	if (overlay_container_umount(b->s, id, false, err) < 0)
		goto out;
	if (store_pin(b->s, err) < 0)
		goto out;
	r = overlay_container_pack(b->s, id, &po, out, NULL, err);
	if (r < 0)
		store_unpin(b->s);
out:
	recipe_build_fs_release(b);
	return r < 0 ? strata_wrap(err, "squash") : 0;
}

void recipe_build_fs_release(struct builder *b)
{
	if (b->work_id) {
		struct strata_error *e = NULL;

		if (overlay_container_remove(b->s, b->work_id, true, &e) < 0) {
			log_warn("build: cannot remove the working container %.12s: %s", b->work_id,
				 strata_error_msg(e));
			strata_error_free(e);
		}
	}
	free(b->work_id);
	free(b->work_merged);
	b->work_id = NULL;
	b->work_merged = NULL;
}
