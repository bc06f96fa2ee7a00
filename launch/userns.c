/*
 * User namespaces for non-root users (rootless). A user's own ids may
 * always be mapped (user_namespaces(7)); its subordinate ranges of
 * /etc/subuid and /etc/subgid only through the setuid helpers newuidmap
 * and newgidmap (shadow's uidmap), run from outside the namespace. With
 * ranges the user is root inside and ids 1..N are its ranges, in order;
 * without, only the user is mapped and every other id shows as the
 * overflow id (nobody). Writing gid_map unprivileged needs
 * /proc/PID/setgroups set to "deny" first (Linux 3.19), so the
 * supplementary groups cannot be changed there; newgidmap allows them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/launch-int.h"

char *launch_idmap_line(unsigned inside, unsigned outside, unsigned count)
{
	return xasprintf("%u %u %u\n", inside, outside, count);
}

bool launch_userns_refused(int e)
{
	/*
	 * EPERM: a sysctl (kernel.unprivileged_userns_clone, an LSM) or a
	 * seccomp filter forbids it; EINVAL: a kernel without CONFIG_USER_NS
	 * or a chroot; ENOSPC: user.max_user_namespaces reached (0 disables).
	 */
	return e == EPERM || e == EINVAL || e == ENOSPC;
}

/* ---- subordinate ids ---- */

static bool parse_u32(const char *s, size_t len, unsigned long *out)
{
	char buf[16], *end;

	if (len == 0 || len >= sizeof(buf) || s[0] == '-' || s[0] == '+')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoul(buf, &end, 10);
	return !*end && !errno && *out <= 0xffffffffUL;
}

int launch_subid_parse(const char *text, const char *name, unsigned long id,
		       struct launch_idrange **out, size_t *n)
{
	const char *line = text;
	char idbuf[16];
	size_t idlen = (size_t)snprintf(idbuf, sizeof(idbuf), "%lu", id);
	int bad = 0;

	*out = NULL;
	*n = 0;
	for (; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");
		const char *c1 = memchr(line, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
		size_t klen = c1 ? (size_t)(c1 - line) : 0;
		unsigned long start, count;

		if (len == 0 || line[0] == '#')
			continue;
		if (!c2 || !parse_u32(c1 + 1, (size_t)(c2 - c1 - 1), &start) ||
		    !parse_u32(c2 + 1, len - (size_t)(c2 + 1 - line), &count)) {
			bad++;
			continue;
		}
		/* the key is the user's name or its uid, as shadow's getsubids reads it */
		if (!((name && klen == strlen(name) && !memcmp(line, name, klen)) ||
		      (klen == idlen && !memcmp(line, idbuf, klen))))
			continue;
		if (count == 0 || start + count - 1 > 0xfffffffeUL) {
			bad++;
			continue;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].inside = 0;
		(*out)[*n].outside = (unsigned)start;
		(*out)[*n].count = (unsigned)count;
		(*n)++;
	}
	return bad;
}

int launch_getsubids_parse(const char *text, struct launch_idrange **out, size_t *n)
{
	int bad = 0;

	*out = NULL;
	*n = 0;
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long idx, start, count;
		int used = 0;

		if (*l == '\n')
			continue;
		/* "INDEX: NAME START COUNT" */
		if (sscanf(l, "%lu: %*s %lu %lu%n", &idx, &start, &count, &used) != 3 || used == 0 ||
		    count == 0 || start + count - 1 > 0xfffffffeUL) {
			bad++;
			continue;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n] = (struct launch_idrange){ 0, (unsigned)start, (unsigned)count };
		(*n)++;
	}
	return bad;
}

/*
 * True when NSS names a source of subordinate ids ("subid:" in
 * /etc/nsswitch.conf, shadow 4.9): then shadow's getsubids is asked, which
 * reads it through libsubid, as newuidmap checks the ranges.
 */
static bool subid_from_nss(void)
{
	cleanup_free char *text = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, "/etc/nsswitch.conf", 1 << 16, &text, &len, NULL) < 0)
		return false;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		l += strspn(l, " \t");
		if (!strncmp(l, "subid:", 6))
			return true;
	}
	return false;
}

/* The ranges getsubids prints for @name (-g: group ranges); none when it fails. */
static void subid_from_getsubids(const char *name, bool groups, struct launch_idrange **out,
				 size_t *n)
{
	char *av[] = { (char *)"getsubids", (char *)(groups ? "-g" : name),
		       (char *)(groups ? name : NULL), NULL };
	posix_spawn_file_actions_t fa;
	int p[2];
	pid_t pid = -1;
	struct sbuf b = SBUF_INIT;
	cleanup_free char *text = NULL;
	char buf[1024];
	ssize_t r;
	int st = 0;

	*out = NULL;
	*n = 0;
	if (!name || pipe2(p, O_CLOEXEC) < 0)
		return;
	if (posix_spawn_file_actions_init(&fa) == 0) {
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		if (posix_spawnp(&pid, av[0], &fa, NULL, av, environ) != 0)
			pid = -1;
		posix_spawn_file_actions_destroy(&fa);
	}
	close(p[1]);
	while (pid > 0 && ((r = read(p[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0 && b.len < (1 << 20))
			sbuf_add(&b, buf, (size_t)r);
	close(p[0]);
	text = sbuf_detach(&b, NULL);
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		launch_getsubids_parse(text, out, n);
}

/* The ranges of @file for the caller; none when the file is missing or names it not. */
static void subid_read(const char *file, const char *name, unsigned long id,
		       struct launch_idrange **out, size_t *n)
{
	cleanup_free char *text = NULL;
	size_t len;

	*out = NULL;
	*n = 0;
	if (file_read_at(AT_FDCWD, file, 1 << 20, &text, &len, NULL) < 0)
		return;
	if (launch_subid_parse(text, name, id, out, n) > 0)
		log_debug("userns: %s has lines that do not parse: skipped", file);
}

/* Lays @n ranges out after the caller's own id (inside 0): 1.., then the next. */
static void idmap_fill(struct launch_idrange **map, size_t *n_map, unsigned self,
		       const struct launch_idrange *sub, size_t n_sub)
{
	unsigned long next = 1;

	*map = xcalloc(n_sub + 1, sizeof(**map));
	(*map)[0] = (struct launch_idrange){ 0, self, 1 };
	*n_map = 1;
	for (size_t i = 0; i < n_sub && next <= 0xfffffffeUL; i++) {
		unsigned long count = sub[i].count;

		if (next + count - 1 > 0xfffffffeUL)
			count = 0xffffffffUL - next;
		(*map)[*n_map] = (struct launch_idrange){ (unsigned)next, sub[i].outside,
							    (unsigned)count };
		(*n_map)++;
		next += count;
	}
}

void launch_idmap_caller(struct launch_idmap *m)
{
	const char *files[2] = { "/etc/subuid", "/etc/subgid" };
	struct passwd *pw = getpwuid(getuid());
	cleanup_free char *name = pw ? xstrdup(pw->pw_name) : NULL;
	const char *env = getenv("STRATA_SUBID_DIR");
	struct launch_idrange *sub[2] = { NULL, NULL };
	size_t n_sub[2] = { 0, 0 };

	memset(m, 0, sizeof(*m));
	m->uid_self = getuid();
	m->gid_self = getgid();
	for (int i = 0; i < 2; i++) {
		/* a test may point at its own files; the helpers read /etc's all the same */
		cleanup_free char *f = env && *env ? path_join(env, files[i] + 5) : xstrdup(files[i]);

		if (!(env && *env) && subid_from_nss())
			subid_from_getsubids(name, i == 1, &sub[i], &n_sub[i]);
		else
			subid_read(f, name, m->uid_self, &sub[i], &n_sub[i]);
	}
	/* both or neither: a uid range without a gid range maps files we could not chgrp */
	if (n_sub[0] == 0 || n_sub[1] == 0)
		n_sub[0] = n_sub[1] = 0;
	idmap_fill(&m->uid, &m->n_uid, (unsigned)m->uid_self, sub[0], n_sub[0]);
	idmap_fill(&m->gid, &m->n_gid, (unsigned)m->gid_self, sub[1], n_sub[1]);
	free(sub[0]);
	free(sub[1]);
}

void launch_idmap_release(struct launch_idmap *m)
{
	free(m->uid);
	free(m->gid);
	memset(m, 0, sizeof(*m));
}

char *launch_idmap_text(const struct launch_idrange *r, size_t n)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; i < n; i++)
		sbuf_addf(&b, "%s%u:%u:%u", i ? "," : "", r[i].inside, r[i].outside, r[i].count);
	return sbuf_detach(&b, NULL);
}

/* ---- writing the maps ---- */

static int write_proc(pid_t pid, const char *file, const char *text, struct strata_error **err)
{
	cleanup_free char *path =
	    pid ? xasprintf("/proc/%d/%s", (int)pid, file) : xasprintf("/proc/self/%s", file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return strata_fail(err, errno, "open %s", path);
	/* One write(2): the kernel takes a map only whole. */
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return strata_fail(err, errno, "write '%.*s' to %s", (int)strcspn(text, "\n"), text,
				   path);
	return 0;
}

/* Reads this process's map (@file "uid_map" or "gid_map") as "IN IN COUNT" lines: the identity. */
static char *own_map_identity(const char *file)
{
	cleanup_free char *path = xasprintf("/proc/self/%s", file);
	cleanup_free char *text = NULL;
	struct sbuf b = SBUF_INIT;
	size_t len;

	if (file_read_at(AT_FDCWD, path, 1 << 16, &text, &len, NULL) < 0)
		return NULL;
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long in, out, count;

		if (sscanf(l, "%lu %lu %lu", &in, &out, &count) == 3)
			sbuf_addf(&b, "%lu %lu %lu\n", in, in, count);
	}
	return sbuf_detach(&b, NULL);
}

int launch_userns_map(pid_t pid, uid_t uid, gid_t gid, struct strata_error **err)
{
	cleanup_free char *um = launch_idmap_line(0, (unsigned)uid, 1);
	cleanup_free char *gm = launch_idmap_line(0, (unsigned)gid, 1);

	if (write_proc(pid, "setgroups", "deny", err) < 0 ||
	    write_proc(pid, "uid_map", um, err) < 0 || write_proc(pid, "gid_map", gm, err) < 0)
		return strata_wrap(err, "map uid %u and gid %u to root in the user namespace",
				   (unsigned)uid, (unsigned)gid);
	return 0;
}

int launch_userns_map_identity(pid_t pid, struct strata_error **err)
{
	cleanup_free char *um = own_map_identity("uid_map");
	cleanup_free char *gm = own_map_identity("gid_map");
	cleanup_free char *sg = NULL;
	size_t len;

	if (!um || !gm)
		return strata_fail(err, errno, "read this process's id maps");
	/* a namespace below one where setgroups is denied must deny it too */
	if (file_read_at(AT_FDCWD, "/proc/self/setgroups", 64, &sg, &len, NULL) == 0 && !strncmp(sg, "deny", 4) &&
	    write_proc(pid, "setgroups", "deny", err) < 0)
		return -1;
	if (write_proc(pid, "uid_map", um, err) < 0 || write_proc(pid, "gid_map", gm, err) < 0)
		return strata_wrap(err, "map the ids of this namespace into the container's");
	return 0;
}

int launch_userns_map_ranges(pid_t pid, const struct idmap *m, struct strata_error **err)
{
	struct sbuf u = SBUF_INIT, g = SBUF_INIT;
	cleanup_free char *ut = NULL;
	cleanup_free char *gt = NULL;

	for (size_t i = 0; i < m->n_uid; i++)
		sbuf_addf(&u, "%u %u %u\n", m->uid[i].inside, m->uid[i].outside, m->uid[i].count);
	for (size_t i = 0; i < m->n_gid; i++)
		sbuf_addf(&g, "%u %u %u\n", m->gid[i].inside, m->gid[i].outside, m->gid[i].count);
	ut = sbuf_detach(&u, NULL);
	gt = sbuf_detach(&g, NULL);
	/* root of the parent namespace: any of its ids, and setgroups stays allowed */
	if (write_proc(pid, "uid_map", ut, err) < 0 || write_proc(pid, "gid_map", gt, err) < 0)
		return strata_wrap(err, "map the container's user namespace");
	return 0;
}

/* argv of newuidmap or newgidmap: TOOL PID then IN OUT COUNT per range. */
static char **helper_argv(const char *tool, pid_t pid, const struct launch_idrange *r, size_t n)
{
	char **av = xcalloc(3 * n + 3, sizeof(char *));
	size_t k = 0;

	av[k++] = xstrdup(tool);
	av[k++] = xasprintf("%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		av[k++] = xasprintf("%u", r[i].inside);
		av[k++] = xasprintf("%u", r[i].outside);
		av[k++] = xasprintf("%u", r[i].count);
	}
	return av;
}

/*
 * In the helper: runs newuidmap and newgidmap on @pid at once, their
 * stderr on @errfd. posix_spawn: no copy of the page tables per tool.
 */
static int run_map_helpers(pid_t pid, const struct launch_idmap *m, int errfd)
{
	const char *tools[2] = { "newuidmap", "newgidmap" };
	pid_t kids[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	int bad = 0;

	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, errfd, 2) != 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		cleanup_strv char **av = i == 0 ? helper_argv(tools[i], pid, m->uid, m->n_uid)
						: helper_argv(tools[i], pid, m->gid, m->n_gid);
		int r = posix_spawnp(&kids[i], av[0], &fa, NULL, av, environ);

		if (r != 0) {
			dprintf(errfd, "%s: %s\n", av[0], strerror(r));
			kids[i] = -1;
		}
	}
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		int st = 0;

		if (kids[i] < 0 || waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad = 1;
	}
	return bad;
}

/*
 * Maps this process, just moved into a new user namespace, with the
 * helpers: they must run outside it (a setuid binary run inside would not
 * be root: its owner is not mapped there), so a child forked before the
 * unshare runs them once told to, and says how they ended.
 */
static int enter_mapped(const struct launch_idmap *m, struct strata_error **err)
{
	int go[2], res[2];
	pid_t helper, self = getpid();
	char buf[512];
	ssize_t n, got = 0;
	int st = 0, e;

	if (pipe2(go, O_CLOEXEC) < 0)
		return strata_fail(err, errno, "pipe");
	if (pipe2(res, O_CLOEXEC) < 0) {
		e = errno;
		close(go[0]);
		close(go[1]);
		return strata_fail(err, e, "pipe");
	}
	fflush(NULL);
	helper = fork();
	if (helper < 0) {
		e = errno;
		close(go[0]), close(go[1]), close(res[0]), close(res[1]);
		return strata_fail(err, e, "fork");
	}
	if (helper == 0) {
		char c = 0;

		close(go[1]);
		close(res[0]);
		if (read(go[0], &c, 1) != 1 || c != 'g')
			_exit(2);
		_exit(run_map_helpers(self, m, res[1]));
	}
	close(go[0]);
	close(res[1]);
	e = sys_unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ? errno : 0;
	if (write(go[1], e ? "x" : "g", 1) != 1 && !e)
		e = errno;
	close(go[1]);
	while ((n = read(res[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0 ||
	       (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	close(res[0]);
	buf[got] = '\0';
	waitpid(helper, &st, 0);
	if (e && launch_userns_refused(e))
		return strata_fail_msg(
		    err, e, "new user namespace: user namespaces are not available to this user");
	if (e)
		return strata_fail(err, e, "new user namespace");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		buf[strcspn(buf, "\n")] = '\0';
		return strata_fail_msg(err, EPERM, "map the subordinate ids: %s",
				       *buf ? buf : "newuidmap or newgidmap failed");
	}
	return 0;
}

int launch_userns_enter(const struct launch_idmap *m, struct strata_error **err)
{
	if (m && m->n_uid > 1) {
		if (enter_mapped(m, err) < 0)
			return -1;
	} else {
		uid_t uid = geteuid();
		gid_t gid = getegid();

		if (sys_unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
			if (launch_userns_refused(errno))
				return strata_fail_msg(
				    err, errno,
				    "new user namespace: user namespaces are not available to this user");
			return strata_fail(err, errno, "new user namespace");
		}
		if (launch_userns_map(0, uid, gid, err) < 0)
			return -1;
	}
	/* Nothing mounted here may reach the host's mount namespace. */
	if (sys_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return strata_fail(err, errno, "make mounts private");
	return 0;
}
