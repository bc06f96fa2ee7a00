/*
 * strata info: the store's contents and what this machine offers.
 */
#include <archive.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <libmount.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <zlib.h>
#include <zstd.h>

#include "cmd/cmd.h"
#include "cmd/template.h"
#include "launch/launch.h"
#include "overlay/overlay.h"

static int count_one(const struct store_layer_entry *e, void *arg, struct strata_error **err)
{
	(void)e;
	(void)err;
	(*(uint64_t *)arg)++;
	return 0;
}

/* Counts the chain-ID dirs under ROOT/layers/<backend>/ for every backend. */
static uint64_t count_layer_dirs(struct store *s)
{
	uint64_t n = 0;

	if (store_layer_walk(s, count_one, &n, NULL) < 0)
		return 0;
	return n;
}

/* Which union backends work here, and which one is used. */
static json_t *backends_info(const struct cmd_ctx *ctx)
{
	json_t *o = json_object();
	const char *name;
	json_t *avail = json_object();

	jv_set_str(o, "default", overlay_backend_default());
	jv_set_str(o, "selected", ctx->backend ? ctx->backend : overlay_backend_default());
	for (size_t i = 0; (name = overlay_backend_name(i)); i++) {
		struct strata_error *err = NULL;

		if (overlay_backend_check(name, &err) == 0) {
			jv_set_str(avail, name, "ok");
		} else {
			jv_set_str(avail, name, strata_error_msg(err));
			strata_error_free(err);
		}
	}
	json_object_set_new(o, "available", avail);
	jv_set_str(o, "overlayMountAPI", overlay_mount_api());
	return o;
}

static json_t *library_versions(void)
{
	json_t *o = json_object();
	const struct scmp_version *sv = seccomp_version();
	unsigned int mmaj = 0, mmin = 0, mpatch = 0;
	cleanup_free char *sec = NULL;
	const char *mnt = NULL;

	jv_set_str(o, "libarchive", archive_version_details());
	jv_set_str(o, "openssl", digest_library_version());
	jv_set_str(o, "zstd", ZSTD_versionString());
	jv_set_str(o, "zlib", zlibVersion());
	mnt_get_library_version(&mnt);
	jv_set_str(o, "libmount", mnt ? mnt : "unknown");
	jv_set_str(o, "libcurl", curl_version());
	jv_set_str(o, "jansson", jansson_version_str());
	if (sv) {
		mmaj = sv->major;
		mmin = sv->minor;
		mpatch = sv->micro;
	}
	sec = xasprintf("%u.%u.%u", mmaj, mmin, mpatch);
	jv_set_str(o, "libseccomp", sec);
	return o;
}

/* The keys podman's info has (Host, Store, Version) beside strata's own. */
static void add_podman_names(json_t *info, const char *kernel, size_t images, size_t containers,
			     const struct cmd_ctx *ctx)
{
	json_t *host = json_object(), *store = json_object(), *ver = json_object();
	const char *mode = launch_cgroup_mode();

	jv_set_str(host, "Arch", store_arch());
	jv_set_str(host, "Kernel", kernel);
	jv_set_str(host, "OS", "linux");
	json_object_set_new(host, "CPUs", json_integer(sys_ncpus()));
	jv_set_str(host, "CgroupsVersion", strstr(mode, "2") ? "v2" : "v1");
	json_object_set_new(host, "Rootless", json_boolean(!sys_is_host_root()));
	jv_set_str(store, "GraphRoot", ctx->root);
	jv_set_str(store, "GraphDriverName",
		   ctx->backend ? ctx->backend : jv_str(json_object_get(info, "backends"), "selected"));
	json_object_set_new(store, "ImageStore", json_pack("{s:I}", "Number", (json_int_t)images));
	json_object_set_new(store, "ContainerStore",
			    json_pack("{s:I}", "Number", (json_int_t)containers));
	jv_set_str(ver, "Version", STRATA_VERSION);
	json_object_set_new(info, "Host", host);
	json_object_set_new(info, "Store", store);
	json_object_set_new(info, "Version", ver);
}

static int cmd_info(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct store_image_info *imgs = NULL;
	cleanup_strv char **cids = NULL;
	cleanup_json json_t *info = json_object();
	json_t *store_o, *host, *libs;
	uint64_t img_bytes = 0;
	struct utsname u;
	size_t n = 0;
	struct cmd_format fmt = { 0 };
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_TEMPLATE('f', &fmt, "text (default), json, or a Go template on podman's names\n"
					"and strata's: '{{.Host.Arch}} {{.Store.GraphRoot}}'"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, ""))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	/* Counts and sizes come from the image summary: no blob is read. */
	if (store_image_list(s, &imgs, &n, &err) < 0)
		return cmd_fail(ctx, err);
	for (size_t i = 0; i < n; i++)
		img_bytes += imgs[i].size;
	store_image_infos_free(imgs, n);
	if (store_container_list(s, &cids, &err) < 0)
		return cmd_fail(ctx, err);

	store_o = json_object();
	jv_set_str(store_o, "root", store_root(s));
	json_object_set_new(store_o, "images", json_integer((json_int_t)n));
	json_object_set_new(store_o, "imageBytes", json_integer((json_int_t)img_bytes));
	json_object_set_new(store_o, "layerDirs", json_integer((json_int_t)count_layer_dirs(s)));
	json_object_set_new(store_o, "containers", json_integer((json_int_t)strv_len(cids)));
	json_object_set_new(info, "store", store_o);

	host = json_object();
	uname(&u);
	jv_set_str(host, "kernel", u.release);
	jv_set_str(host, "arch", store_arch());
	json_object_set_new(host, "cpus", json_integer(sys_ncpus()));
	jv_set_str(host, "cgroups", launch_cgroup_mode());
	/* as podman info: containers of a non-root user get a user namespace */
	json_object_set_new(host, "rootless", json_boolean(!sys_is_host_root()));
	if (!sys_is_host_root() && geteuid() != 0) {
		/* the map its commands enter (cmd_userns_enter): the user, then its ranges */
		struct launch_idmap m;
		cleanup_free char *um = NULL;
		cleanup_free char *gm = NULL;

		launch_idmap_caller(&m);
		um = launch_idmap_text(m.uid, m.n_uid);
		gm = launch_idmap_text(m.gid, m.n_gid);
		jv_set_str(host, "uidmap", um);
		jv_set_str(host, "gidmap", gm);
		launch_idmap_release(&m);
	}
	json_object_set_new(info, "host", host);

	json_object_set_new(info, "backends", backends_info(ctx));

	libs = library_versions();
	json_object_set_new(info, "libraries", libs);
	jv_set_str(info, "version", STRATA_VERSION);

	if (fmt.json) {
		cmd_print_json(info);
		return 0;
	}
	if (fmt.tmpl) {
		struct sbuf out = SBUF_INIT;
		int r;

		add_podman_names(info, u.release, n, strv_len(cids), ctx);
		r = cmd_template_exec(fmt.tmpl, info, &out, &err);
		cmd_format_release(&fmt);
		if (r < 0) {
			sbuf_release(&out);
			return cmd_fail(ctx, err);
		}
		fwrite(out.buf, 1, out.len, stdout);
		sbuf_release(&out);
		return 0;
	}
	{
		cleanup_free char *sz = size_human(img_bytes, SIZE_LIST);
		const char *k;
		json_t *v;

		printf("version: %s\n", STRATA_VERSION);
		printf("store:\n  root: %s\n  images: %zu (%s)\n  layer dirs: %llu\n  containers: %zu\n",
		       store_root(s), n, sz, (unsigned long long)count_layer_dirs(s), strv_len(cids));
		printf("host:\n  kernel: %s\n  arch: %s\n  cpus: %d\n  cgroups: %s\n  rootless: %s\n",
		       u.release, store_arch(), sys_ncpus(), launch_cgroup_mode(),
		       sys_is_host_root() ? "no" : "yes (a user namespace maps this user to root)");
		if (jv_str(host, "uidmap"))
			printf("  uidmap: %s\n  gidmap: %s%s\n", jv_str(host, "uidmap"),
			       jv_str(host, "gidmap"),
			       strchr(jv_str(host, "uidmap"), ',') ? ""
								   : " (no subordinate ids: only this user)");
		{
			json_t *bk = json_object_get(info, "backends");

			printf("backends:\n  default: %s\n  selected: %s\n  overlay mounts with: %s\n",
			       jv_str(bk, "default"), jv_str(bk, "selected"),
			       jv_str(bk, "overlayMountAPI"));
			json_object_foreach(json_object_get(bk, "available"), k, v)
				printf("  %s: %s\n", k, json_string_value(v));
		}
		printf("libraries:\n");
		json_object_foreach(libs, k, v)
			printf("  %s: %s\n", k, json_string_value(v));
	}
	return 0;
}

/* The store-wide settings: the name `config` takes, the key of ROOT/settings.json. */
static const struct {
	const char *name, *key;
} settings[] = {
	/* run, create: the container's own /proc view (false: the host's files) */
	{ "proc-view", "ProcView" },
};

static int cmd_config(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	const struct cmd_option opts[] = { OPT_END() };
	struct store *s;
	size_t i;

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 2, "[KEY [true|false]]")))
		return ctx->status;
	for (i = 0; i < ARRAY_SIZE(settings); i++) {
		cleanup_json json_t *v = NULL;

		if (argc && strcmp(argv[0], settings[i].name))
			continue;
		if (argc < 2) {
			v = store_setting_get(s, settings[i].key);
			printf("%s %s\n", settings[i].name, json_is_false(v) ? "false" : "true");
			continue;
		}
		if (strcmp(argv[1], "true") && strcmp(argv[1], "false"))
			return cmd_usage_error(ctx, "invalid value '%s' for '%s' (true or false)",
					       argv[1], argv[0]);
		/* true is the default: the key goes */
		if (store_setting_set(s, settings[i].key,
				      strcmp(argv[1], "false") ? NULL : json_false(), &err) < 0)
			return cmd_fail(ctx, err);
		return 0;
	}
	if (argc) {
		for (i = 0; i < ARRAY_SIZE(settings); i++)
			if (!strcmp(argv[0], settings[i].name))
				return 0;
		return cmd_usage_error(ctx, "unknown setting '%s' (proc-view)", argv[0]);
	}
	return 0;
}

const struct command cmd_info_commands[] = {
	{ "info", "[--format FORMAT]", "show the store, host and library versions",
	  cmd_info },
	{ "config", "[KEY [true|false]]",
	  "show or change the store-wide settings (proc-view: the containers' own /proc)",
	  cmd_config },
	{ NULL, NULL, NULL, NULL },
};
