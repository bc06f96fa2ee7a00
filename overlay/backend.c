/*
 * The backend table: which union backends exist, which one to use by
 * default, and whether the kernel can do what each needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

static const struct backend_ops *const backends[] = { &backend_overlay, &backend_aufs,
						       &backend_vfs };

const struct backend_ops *backend_get(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(backends); i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

bool overlay_backend_is_valid(const char *name)
{
	return backend_get(name) != NULL;
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

bool backend_kernel_has(const char *fstype)
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

const char *overlay_backend_default(void)
{
	if (geteuid() == 0 && backend_kernel_has("overlay"))
		return "overlay";
	return "vfs";
}

int overlay_backend_check(const char *name, struct strata_error **err)
{
	const struct backend_ops *b = backend_get(name);

	if (!b)
		return strata_fail_msg(err, EINVAL, "unknown backend '%s' (want overlay, aufs or vfs)",
				       name ? name : "");
	if (b->probe && b->probe(err) < 0)
		return strata_wrap(err, "backend '%s'", name);
	return 0;
}
