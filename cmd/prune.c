/*
 * Cleaning up as podman does: image prune, container prune, system prune,
 * and system df (what images, containers, volumes and the build cache
 * take, and what of it a prune would free).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/template.h"

bool cmd_confirm(bool force, const char *question)
{
	char line[64] = "";

	if (force)
		return true;
	/* podman asks on stderr and reads the answer from stdin, a terminal or not */
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

static int64_t created_of(const char *created)
{
	int64_t sec = 0;

	if (created)
		time_parse_rfc3339(created, &sec, NULL);
	return sec;
}

/* until= and label= (label!= too) of a prune: true when @created and @labels pass. */
static bool prune_filter(const struct cmd_filters *f, int64_t created, const json_t *labels)
{
	char *const *v;
	int64_t t;

	for (v = cmd_filters_get(f, "until"); v && *v; v++)
		if (cmd_time_parse(*v, &t) < 0 || created >= t)
			return false;
	return cmd_filters_labels_pass(f, labels);
}

static int prune_filters_parse(struct cmd_ctx *ctx, char **specs, struct cmd_filters *f)
{
	static const char *const keys[] = { "until", "label", "label!", NULL };

	if (cmd_filters_parse(ctx, specs, keys, f))
		return EXIT_STRATA;
	for (char *const *v = cmd_filters_get(f, "until"); v && *v; v++) {
		int64_t t;

		if (cmd_time_parse(*v, &t) < 0) {
			/* report before the release: *v is one of @f's values */
			int r = cmd_usage_error(ctx, "invalid filter 'until=%s' (a time or a duration)",
						*v);

			cmd_filters_release(f);
			return r;
		}
	}
	return 0;
}

/*
 * The start every prune shares: parses @specs into @f, then asks
 * @question unless @force. 0, or the exit status (with @f released).
 */
static int prune_begin(struct cmd_ctx *ctx, char **specs, struct cmd_filters *f, bool force,
		       const char *question)
{
	if (prune_filters_parse(ctx, specs, f))
		return EXIT_STRATA;
	if (!cmd_confirm(force, question)) {
		cmd_filters_release(f);
		return cmd_failf(ctx, "not confirmed: nothing removed (use -f not to be asked)");
	}
	return 0;
}

/*
 * Removes the images no container uses: those without a name, or every one
 * with @all; appends each removed ID to @removed. The data goes at the gc after.
 */
static int prune_images(struct store *s, bool all, const struct cmd_filters *f, char ***removed,
			struct strata_error **err)
{
	struct store_catalog *cat = NULL;
	struct store_image_info *imgs = NULL;
	struct strmap users = STRMAP_INIT;
	cleanup_strv char **refs = xcalloc(1, sizeof(char *));
	cleanup_strv char **digests = xcalloc(1, sizeof(char *));
	size_t n = 0;
	int r = 0;

	/* no container is being created on an image while its users are counted and it goes */
	if (store_users_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (store_catalog_open(s, &cat, err) < 0) {
		store_users_unlock(s);
		return -1;
	}
	store_catalog_list(cat, &imgs, &n);
	cmd_image_users_count(s, &users);
	for (size_t i = 0; i < n; i++) {
		cleanup_json json_t *labels = NULL;

		if (strmap_get(&users, imgs[i].id) || (!all && strv_len(imgs[i].tags)))
			continue;
		if (f->n) {
			labels = cmd_image_labels(s, imgs[i].id);
			if (!prune_filter(f, created_of(imgs[i].created), labels))
				continue;
		}
		for (size_t k = 0; imgs[i].tags && imgs[i].tags[k]; k++)
			strv_append(&refs, imgs[i].tags[k]);
		for (size_t k = 0; imgs[i].digests && imgs[i].digests[k]; k++)
			strv_append(&digests, imgs[i].digests[k]);
		strv_append(removed, digest_hex(imgs[i].id));
	}
	if (strv_len(refs) || strv_len(digests))
		r = store_tags_remove(s, refs, strv_len(refs), digests, strv_len(digests), err);
	store_users_unlock(s);
	store_image_infos_free(imgs, n);
	store_catalog_free(cat);
	strmap_release(&users, NULL);
	return r;
}

/*
 * True for a container a live process is about to start or works in: a
 * build's working container ("Builder") or the one a `run` has just made
 * ("Runner"). A prune leaves those to their process, as podman's container
 * prune never sees buildah's working containers.
 */
static bool held_by_live_process(const json_t *rec)
{
	static const char *const keys[] = { "Builder", "Runner" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *by = json_object_get(rec, keys[i]);
		json_int_t pid = jv_int(by, "Pid", 0);

		if (by && pid > 0 &&
		    sys_pid_alive_since((pid_t)pid, (uint64_t)jv_int(by, "PidStartTime", 0)))
			return true;
	}
	return false;
}

/* Removes the containers that are not running; appends each removed ID to @removed. */
static int prune_containers(struct cmd_ctx *ctx, struct store *s, const struct cmd_filters *f,
			    char ***removed)
{
	cleanup_strv char **ids = NULL;
	struct strata_error *err = NULL;
	int ret = 0;

	/* a container being created (its record not yet whole) is left to its maker */
	if (store_users_lock(s, STORE_LOCK_EXCLUSIVE, &err) < 0)
		return cmd_fail(ctx, err);
	if (store_container_list(s, &ids, &err) < 0) {
		store_users_unlock(s);
		return cmd_fail(ctx, err);
	}
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		json_t *labels;

		if (!rec || !strcmp(cmd_container_state(rec), "running") || held_by_live_process(rec))
			continue;
		labels = json_object_get(json_object_get(rec, "Config"), "Labels");
		if (!prune_filter(f, created_of(jv_str(rec, "Created")), labels))
			continue;
		if (cmd_container_remove(s, ids[i], false, &err) < 0) {
			ret = cmd_fail(ctx, err);
			err = NULL;
			continue;
		}
		strv_append(removed, ids[i]);
	}
	store_users_unlock(s);
	return ret;
}

static void print_ids(char *const *ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		printf("%s\n", ids[i]);
}

static int cmd_image_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_strv char **filters = NULL;
	cleanup_strv char **removed = xcalloc(1, sizeof(char *));
	struct cmd_filters f = { 0 };
	struct store_gc_stats st;
	bool all = false, force = false;
	struct store *s;
	int ret = 0;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every image no container uses, not only those without a name"),
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "until=TIME (made before: 24h, a date, RFC 3339),\n"
			 "label=KEY[=VALUE], label!=KEY[=VALUE]"),
		OPT_BOOL('f', "force", &force, "do not ask for confirmation"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if ((ret = prune_begin(ctx, filters, &f, force,
			       all ? "WARNING! This command removes all images without at least "
				     "one container associated with them.\nAre you sure you want "
				     "to continue?"
				   : "WARNING! This command removes all dangling images.\nAre you sure "
				     "you want to continue?")))
		return ret;
	if (prune_images(s, all, &f, &removed, &err) < 0 || store_gc(s, NULL, NULL, &st, &err) < 0)
		ret = cmd_fail(ctx, err);
	else
		print_ids(removed);
	cmd_filters_release(&f);
	return ret;
}

static int cmd_container_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	cleanup_strv char **filters = NULL;
	cleanup_strv char **removed = xcalloc(1, sizeof(char *));
	struct cmd_filters f = { 0 };
	bool force = false;
	struct store *s;
	int ret;
	const struct cmd_option opts[] = {
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "until=TIME (created before), label=KEY[=VALUE], label!=KEY[=VALUE]"),
		OPT_BOOL('f', "force", &force, "do not ask for confirmation"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if ((ret = prune_begin(ctx, filters, &f, force,
			       "WARNING! This will remove all non running containers.\nAre you "
			       "sure you want to continue?")))
		return ret;
	ret = prune_containers(ctx, s, &f, &removed);
	print_ids(removed);
	cmd_filters_release(&f);
	return ret;
}

static int cmd_system_prune(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct store_cache_prune_opts co = { false, -1 };
	struct strata_error *err = NULL;
	cleanup_strv char **filters = NULL;
	cleanup_strv char **containers = xcalloc(1, sizeof(char *));
	cleanup_strv char **images = xcalloc(1, sizeof(char *));
	cleanup_free char *freed = NULL;
	struct cmd_filters f = { 0 };
	struct store_gc_stats st;
	cleanup_strv char **volumes = xcalloc(1, sizeof(char *));
	uint64_t entries = 0, vol_bytes = 0;
	bool all = false, force = false, with_volumes = false;
	struct store *s;
	int ret;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every image no container uses, not only those without a name"),
		OPT_BOOL(0, "volumes", &with_volumes, "the volumes no container uses too"),
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]"),
		OPT_BOOL('f', "force", &force, "do not ask for confirmation"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if ((ret = prune_begin(ctx, filters, &f, force,
			       all ? (with_volumes
					      ? "WARNING! This command removes:\n\t- all stopped "
						"containers\n\t- all volumes not used by at least one "
						"container\n\t- all images without at least one container "
						"associated with them\n\t- all build cache\nAre you sure "
						"you want to continue?"
					      : "WARNING! This command removes:\n\t- all stopped "
						"containers\n\t- all images without at least one container "
						"associated with them\n\t- all build cache\nAre you sure "
						"you want to continue?")
				   : (with_volumes
					      ? "WARNING! This command removes:\n\t- all stopped "
						"containers\n\t- all volumes not used by at least one "
						"container\n\t- all dangling images\n\t- all dangling build "
						"cache\nAre you sure you want to continue?"
					      : "WARNING! This command removes:\n\t- all stopped "
						"containers\n\t- all dangling images\n\t- all dangling "
						"build cache\nAre you sure you want to continue?"))))
		return ret;
	/* containers first: the images they held become unused */
	ret = prune_containers(ctx, s, &f, &containers);
	if (prune_images(s, all, &f, &images, &err) < 0)
		ret = cmd_fail(ctx, err), err = NULL;
	/* --volumes: the volumes no container uses, once the containers have gone */
	if (with_volumes && cmd_volumes_prune(ctx, s, &f, &volumes, &vol_bytes))
		ret = EXIT_STRATA;
	co.all = all;
	if (store_cache_prune(s, &co, NULL, NULL, &entries, &err) < 0 ||
	    store_gc(s, NULL, NULL, &st, &err) < 0) {
		cmd_filters_release(&f);
		return cmd_fail(ctx, err);
	}
	if (strv_len(containers)) {
		printf("Deleted Containers\n");
		print_ids(containers);
		printf("\n");
	}
	if (strv_len(volumes)) {
		printf("Deleted Volumes\n");
		print_ids(volumes);
		printf("\n");
	}
	if (strv_len(images)) {
		printf("Deleted Images\n");
		print_ids(images);
		printf("\n");
	}
	if (entries)
		printf("Deleted %llu build cache entr%s\n\n", (unsigned long long)entries,
		       entries == 1 ? "y" : "ies");
	freed = size_human(st.blob_bytes + vol_bytes, SIZE_DF);
	printf("Total reclaimed space: %s\n", freed);
	cmd_filters_release(&f);
	return ret;
}

/* ---- system df ---- */

/* The bytes of the files under @dirfd/@name (not following links; each inode once is not tried). */
static uint64_t tree_bytes(int parent, const char *name, int depth)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	uint64_t n = 0;
	int fd;

	if (depth > 256)
		return 0;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += tree_bytes(dirfd(d), de->d_name, depth + 1);
		else if (S_ISREG(st.st_mode))
			n += (uint64_t)st.st_size;
	}
	return n;
}

/* What a container writes: its upper dir, or a vfs container's whole rootfs copy. */
static uint64_t container_bytes(struct store *s, const char *id)
{
	cleanup_close int fd = store_container_dirfd(s, id, NULL);

	if (fd < 0)
		return 0;
	return faccessat(fd, "upper", F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? tree_bytes(fd, "upper", 0)
									 : tree_bytes(fd, "merged", 0);
}

struct df_row {
	const char *type;
	uint64_t total, active, size, reclaimable;
};

static json_t *df_row_json(const struct df_row *r)
{
	cleanup_free char *size = size_human(r->size, SIZE_DF);
	cleanup_free char *rec = size_human(r->reclaimable, SIZE_DF);
	cleanup_free char *rtext = NULL;
	int pct = r->size ? (int)lround((double)r->reclaimable * 100.0 / (double)r->size) : 0;

	rtext = xasprintf("%s (%d%%)", rec, pct);
	return json_pack("{s:s, s:I, s:I, s:s, s:s, s:I, s:I}", "Type", r->type, "Total",
			 (json_int_t)r->total, "Active", (json_int_t)r->active, "Size", size,
			 "Reclaimable", rtext, "RawSize", (json_int_t)r->size, "RawReclaimable",
			 (json_int_t)r->reclaimable);
}

static const char *const df_fields[] = { "Type",	"Total",   "Active", "Size",
					 "Reclaimable", "RawSize", "RawReclaimable", NULL };

/* Prints @rows through @text (a table template) with @fields. */
static int print_template_rows(struct cmd_ctx *ctx, const char *text, json_t *rows,
			       const char *const *fields, const char *const *headers)
{
	struct strata_error *err = NULL;
	struct cmd_format f = { 0 };
	struct cmd_rows *out;
	json_t *row;
	size_t i;

	if (!(f.tmpl = cmd_template_parse(text, &err)))
		return cmd_fail(ctx, err);
	out = cmd_rows_new(ctx, &f, fields, headers);
	json_array_foreach(rows, i, row)
		if (out && cmd_rows_add(out, row) < 0) {
			cmd_rows_free(out);
			out = NULL;
		}
	cmd_rows_print(out);
	cmd_format_release(&f);
	return out ? 0 : EXIT_STRATA;
}

/* "25 minutes": how long ago, without the "ago", as podman's df -v. */
static char *since(int64_t sec)
{
	char *s = time_ago(sec);

	if (str_has_suffix(s, " ago"))
		s[strlen(s) - 4] = '\0';
	return s;
}

/* df -v: the images, containers and volumes one by one, as podman's. */
static int df_verbose(struct cmd_ctx *ctx, const struct store_image_info *imgs, size_t n,
		      struct strmap *users, json_t *ctrs, json_t *vrows)
{
	static const char *const vol_fields[] = { "VolumeName", "Links", "Size", NULL };
	static const char *const img_fields[] = { "Repository", "Tag", "ID", "Created", "Size",
						  "SharedSize", "UniqueSize", "Containers", NULL };
	static const char *const img_headers[] = { "ID", "IMAGE ID", NULL };
	static const char *const ctr_fields[] = { "ID", "Image", "Command", "LocalVolumes", "Size",
						  "Created", "Status", "Names", NULL };
	static const char *const ctr_headers[] = { "ID", "CONTAINER ID", NULL };
	cleanup_json json_t *irows = json_array();
	int r;

	for (size_t i = 0; i < n; i++) {
		size_t nt = strv_len(imgs[i].tags);

		for (size_t k = 0; k < (nt ? nt : 1); k++) {
			cleanup_free char *ago = since(created_of(imgs[i].created));
			cleanup_free char *size = size_human(imgs[i].size, SIZE_DF);
			const char *ref = nt ? imgs[i].tags[k] : "<none>:<none>";
			const char *colon = strrchr(ref, ':');
			bool tagged = colon && !strchr(colon, '/');

			json_array_append_new(
				irows,
				json_pack("{s:s%, s:s, s:s%, s:s, s:s, s:s, s:s, s:I}", "Repository", ref,
					  tagged ? (size_t)(colon - ref) : strlen(ref), "Tag",
					  tagged ? colon + 1 : "<none>", "ID", digest_hex(imgs[i].id),
					  (size_t)12, "Created", ago, "Size", size, "SharedSize", "0B",
					  "UniqueSize", size, "Containers",
					  (json_int_t)(uintptr_t)strmap_get(users, imgs[i].id)));
		}
	}
	printf("Images space usage:\n\n");
	r = print_template_rows(ctx,
				"table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}\t"
				"{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
				irows, img_fields, img_headers);
	printf("\nContainers space usage:\n\n");
	r = r ?: print_template_rows(ctx,
				     "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t"
				     "{{.Size}}\t{{.Created}}\t{{.Status}}\t{{.Names}}",
				     ctrs, ctr_fields, ctr_headers);
	printf("\nLocal Volumes space usage:\n\n");
	r = r ?: print_template_rows(ctx, "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}", vrows,
				     vol_fields, NULL);
	return r;
}

static int cmd_system_df(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct store_image_info *imgs = NULL;
	struct strmap users = STRMAP_INIT;
	struct store_cache_usage cu;
	cleanup_strv char **ids = NULL;
	cleanup_json json_t *rows = json_array();
	cleanup_json json_t *ctrs = json_array();
	cleanup_json json_t *vrows = json_array();
	cleanup_strv char **vols = NULL;
	struct strmap links = STRMAP_INIT;
	struct cmd_format fmt = { 0 };
	struct df_row img = { "Images", 0, 0, 0, 0 }, ctr = { "Containers", 0, 0, 0, 0 };
	struct df_row vol = { "Local Volumes", 0, 0, 0, 0 }, cache = { "Build Cache", 0, 0, 0, 0 };
	bool verbose = false;
	size_t n = 0;
	struct store *s;
	int ret = 0;
	const struct cmd_option opts[] = {
		OPT_BOOL('v', "verbose", &verbose, "each image, container and volume"),
		OPT_TEMPLATE(0, &fmt, "table (default), json, or a Go template on Type, Total,\n"
				      "Active, Size, Reclaimable, RawSize, RawReclaimable"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, ""))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	if (store_image_list(s, &imgs, &n, &err) < 0 || store_container_list(s, &ids, &err) < 0 ||
	    store_cache_usage(s, &cu, &err) < 0) {
		ret = cmd_fail(ctx, err);
		goto out;
	}
	cmd_image_users_count(s, &users);
	for (size_t i = 0; i < n; i++) {
		bool used = strmap_get(&users, imgs[i].id) != NULL;

		img.total++;
		img.active += used;
		img.size += imgs[i].size;
		img.reclaimable += used ? 0 : imgs[i].size;
	}
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		bool running = rec && !strcmp(cmd_container_state(rec), "running");
		uint64_t bytes = container_bytes(s, ids[i]);
		cleanup_free char *size = size_human(bytes, SIZE_DF);
		cleanup_free char *ago = since(created_of(rec ? jv_str(rec, "Created") : NULL));
		const char *img_id = rec && jv_str(rec, "Image") ? digest_hex(jv_str(rec, "Image")) : "";
		json_t *cmd = rec ? json_object_get(rec, "Command") : NULL;
		cleanup_free char *cmdline = NULL;
		struct sbuf b = SBUF_INIT;
		json_t *w;
		size_t k;

		ctr.total++;
		ctr.active += running;
		ctr.size += bytes;
		ctr.reclaimable += running ? 0 : bytes;
		json_array_foreach(cmd, k, w)
			sbuf_addf(&b, "%s%s", k ? " " : "", json_string_value(w) ?: "");
		cmdline = sbuf_detach(&b, NULL);
		json_array_append_new(
			ctrs, json_pack("{s:s%, s:s%, s:s, s:i, s:s, s:s, s:s, s:s}", "ID", ids[i],
					(size_t)12, "Image", img_id, strnlen(img_id, 12), "Command",
					cmdline, "LocalVolumes",
					(int)json_array_size(rec ? json_object_get(rec, "Volumes") : NULL),
					"Size", size, "Created", ago,
					"Status", rec ? cmd_container_state(rec) : "unknown", "Names",
					rec && jv_str(rec, "Name") ? jv_str(rec, "Name") : ""));
	}
	cache.total = cu.entries;
	cache.active = cu.entries - cu.unused_entries;
	cache.size = cu.bytes;
	cache.reclaimable = cu.unused_bytes;
	/* Local Volumes: active when a container uses one, running or not (podman) */
	if (store_volume_list(s, &vols, &err) < 0) {
		ret = cmd_fail(ctx, err);
		goto out;
	}
	cmd_volume_links(s, &links, NULL);
	for (size_t i = 0; vols[i]; i++) {
		uintptr_t nl = (uintptr_t)strmap_get(&links, vols[i]);
		uint64_t bytes = 0;
		cleanup_free char *size = NULL;

		store_volume_size(s, vols[i], &bytes, NULL);
		size = size_human(bytes, SIZE_DF);
		vol.total++;
		vol.active += nl > 0;
		vol.size += bytes;
		vol.reclaimable += nl ? 0 : bytes;
		json_array_append_new(vrows, json_pack("{s:s, s:I, s:s}", "VolumeName", vols[i],
						       "Links", (json_int_t)nl, "Size", size));
	}
	json_array_append_new(rows, df_row_json(&img));
	json_array_append_new(rows, df_row_json(&ctr));
	json_array_append_new(rows, df_row_json(&vol));
	json_array_append_new(rows, df_row_json(&cache));
	if (verbose)
		ret = df_verbose(ctx, imgs, n, &users, ctrs, vrows);
	else if (fmt.json)
		cmd_print_json(rows);
	else if (fmt.tmpl) {
		struct cmd_rows *out = cmd_rows_new(ctx, &fmt, df_fields, NULL);
		json_t *row;
		size_t i;

		json_array_foreach(rows, i, row)
			if (out && cmd_rows_add(out, row) < 0) {
				cmd_rows_free(out);
				out = NULL;
			}
		ret = out ? 0 : EXIT_STRATA;
		cmd_rows_print(out);
	} else {
		ret = print_template_rows(ctx, "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t"
					  "{{.Reclaimable}}", rows, df_fields, NULL);
	}
out:
	store_image_infos_free(imgs, n);
	strmap_release(&users, NULL);
	strmap_release(&links, NULL);
	cmd_format_release(&fmt);
	return ret;
}

const struct command cmd_prune_commands[] = {
	{ "image prune", "[options]", "remove images without a name (-a: every image no container uses)",
	  cmd_image_prune },
	{ "container prune", "[options]", "remove every container that is not running",
	  cmd_container_prune },
	{ "system prune", "[options]",
	  "remove stopped containers, unused images and build cache, then their data",
	  cmd_system_prune },
	{ "system df", "[options]",
	  "what images, containers, volumes and the build cache take, and what is reclaimable",
	  cmd_system_df },
	{ NULL, NULL, NULL, NULL },
};
