/*
 * Users and groups of a container, read from its own /etc/passwd and
 * /etc/group (resolved inside the rootfs). The host's NSS is never asked:
 * it would answer about the host, and loading its modules after a
 * pivot_root is a hazard.
 */
#include <errno.h>
#include <fcntl.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launch/launch-int.h"

static char *read_etc(int rootfd, const char *name)
{
	cleanup_close int fd = path_open_in(rootfd, name, O_RDONLY, 0, NULL);
	char *buf = NULL;
	size_t len;

	if (fd < 0 || file_read_fd(fd, 4 << 20, &buf, &len, NULL) < 0)
		return NULL;
	return buf;
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && !errno && *out < 0xffffffffUL;
}

/* Splits a passwd/group line into at most @max fields; returns the count. */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

int launch_user_resolve(int rootfd, const char *spec, uid_t *uid, gid_t *gid, gid_t **groups,
			size_t *n_groups, char **home, struct strata_error **err)
{
	cleanup_free char *u = xstrdup(spec && *spec ? spec : "0");
	cleanup_free char *passwd = read_etc(rootfd, "etc/passwd");
	cleanup_free char *group = read_etc(rootfd, "etc/group");
	char *g = strchr(u, ':');
	const char *uname = NULL;
	unsigned long id;
	bool found = false;
	char *save = NULL;

	*groups = NULL;
	*n_groups = 0;
	*home = NULL;
	if (g)
		*g++ = '\0';
	*gid = 0;
	/* the user */
	for (char *line = passwd ? strtok_r(passwd, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		unsigned long pu, pg;

		if (fields(line, f, 7) < 7 || !parse_id(f[2], &pu) || !parse_id(f[3], &pg))
			continue;
		if (strcmp(f[0], u) && !(parse_id(u, &id) && id == pu))
			continue;
		*uid = (uid_t)pu;
		*gid = (gid_t)pg;
		*home = xstrdup(f[5]);
		uname = f[0]; /* points into passwd, which lives to the end */
		found = true;
		break;
	}
	if (!found) {
		if (!parse_id(u, &id))
			return strata_fail_msg(err, ENOENT, "no user '%s' in the container's /etc/passwd",
					       u);
		*uid = (uid_t)id;
		*home = xstrdup("/");
	}
	/* the group, and the user's supplementary groups */
	save = NULL;
	if (g && parse_id(g, &id)) {
		*gid = (gid_t)id;
		g = NULL;
	}
	for (char *line = group ? strtok_r(group, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4];
		unsigned long gg;

		if (fields(line, f, 4) < 4 || !parse_id(f[2], &gg))
			continue;
		if (g && !strcmp(f[0], g)) {
			*gid = (gid_t)gg;
			g = NULL;
		}
		if (found && uname && f[3][0]) {
			char *s2 = NULL;

			for (char *m = strtok_r(f[3], ",", &s2); m; m = strtok_r(NULL, ",", &s2))
				if (!strcmp(m, uname)) {
					*groups = xrealloc(*groups, (*n_groups + 1) * sizeof(gid_t));
					(*groups)[(*n_groups)++] = (gid_t)gg;
				}
		}
	}
	if (g) {
		free(*groups);
		*groups = NULL;
		free(*home);
		*home = NULL;
		return strata_fail_msg(err, ENOENT, "no group '%s' in the container's /etc/group", g);
	}
	return 0;
}
