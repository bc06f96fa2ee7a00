/*
 * The backend table: which union backends exist, which one to use by
 * default, and whether the kernel can do what each needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

static const struct backend_ops *const backends[] = { &overlay_backend_overlay, &overlay_backend_aufs,
						       &overlay_backend_vfs };

const struct backend_ops *overlay_backend_get(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

bool overlay_backend_is_valid(const char *name)
{
	return overlay_backend_get(name) != NULL;
}

const char *overlay_backend_name(size_t i)
{
	return i < ARRAY_SIZE(backends) ? backends[i]->name : NULL;
}

char *overlay_backend_names_text(void)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(backends); i++)
		sbuf_addf(&b, "%s%s", i == 0 ? "" : i + 1 == ARRAY_SIZE(backends) ? " or " : ", ",
			  backends[i]->name);
	return sbuf_detach(&b, NULL);
}

/*
 * /proc/filesystems lists one filesystem a line, "nodev\toverlay" or
 * "\text4". A filesystem built as a module shows up once loaded; fsopen()
 * (or mount) asks the kernel to load it, so a miss is retried after that.
 */
static bool listed(const char *fstype)
{
	cleanup_fclose FILE *f = fopen("/proc/filesystems", "re");
	char line[256];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '\t');

		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, fstype) == 0)
			return true;
	}
	return false;
}

bool overlay_kernel_has(const char *fstype)
{
	int fd;

	if (listed(fstype))
		return true;
	/* Let the kernel autoload the module (request_module in get_fs_type). */
	fd = sys_fsopen(fstype, FSOPEN_CLOEXEC);
	if (fd >= 0)
		close(fd);
	return listed(fstype);
}

bool overlay_kernel_at_least(const char *release, int major, int minor)
{
	int ma = 0, mi = 0;

	if (!release || sscanf(release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* Reads a small integer sysctl; @dflt when the file is missing. */
static long sysctl_long(const char *path, long dflt)
{
	cleanup_free char *buf = NULL;

	if (file_read_at(AT_FDCWD, path, 64, &buf, NULL, NULL) < 0)
		return dflt;
	return strtol(buf, NULL, 10);
}

bool overlay_rootless_possible(const char **why)
{
	struct utsname u;

	if (!overlay_kernel_has("overlay")) {
		*why = "the kernel has no overlayfs";
		return false;
	}
	/* Linux 5.11: overlayfs may be mounted in a user namespace (FS_USERNS_MOUNT). */
	if (uname(&u) < 0 || !overlay_kernel_at_least(u.release, 5, 11)) {
		*why = "mounting overlayfs in a user namespace needs Linux 5.11";
		return false;
	}
	if (sysctl_long("/proc/sys/user/max_user_namespaces", 1) <= 0 ||
	    sysctl_long("/proc/sys/kernel/unprivileged_userns_clone", 1) == 0) {
		*why = "user namespaces are not available to this user";
		return false;
	}
	return true;
}

const char *overlay_backend_pick(bool host_root, bool has_overlay, bool rootless_ok)
{
	if (host_root)
		return has_overlay ? "overlay" : "vfs";
	return rootless_ok ? "overlay" : "vfs";
}

const char *overlay_backend_default(void)
{
	static bool warned;
	const char *why = NULL;
	bool host_root = sys_is_host_root();
	bool ok = !host_root && overlay_rootless_possible(&why);
	const char *b = overlay_backend_pick(host_root, host_root && overlay_kernel_has("overlay"), ok);

	if (!host_root && !ok && !warned) {
		warned = true;
		log_warn("overlayfs cannot be used without root here (%s): using the vfs backend",
			 why);
	}
	return b;
}

int overlay_backend_check(const char *name, struct strata_error **err)
{
	const struct backend_ops *b = overlay_backend_get(name);

	if (!b)
		return strata_fail_msg(err, EINVAL, "unknown backend '%s' (want overlay, aufs or vfs)",
				       name ? name : "");
	if (b->probe && b->probe(err) < 0)
		return strata_wrap(err, "backend '%s'", name);
	return 0;
}
