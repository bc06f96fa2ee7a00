/*
 * overlay: backends, aufs options and whiteouts (no mount), change lists,
 * and real overlayfs mounts with the new mount API and with mount(2)
 * under a seccomp filter that makes fsopen fail with ENOSYS.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "launch/launch.h"
#include "overlay/overlay.h"
#include "tests/unit/unit.h"

static char *scratch;

static void setup(void)
{
	scratch = unit_scratch();
}

static void teardown(void)
{
	unit_scratch_cleanup(scratch);
	scratch = NULL;
}

static char *sp(const char *rel)
{
	return xasprintf("%s/%s", scratch, rel);
}

/* Joins the changes as "A path\n" lines. Caller frees. */
static char *changes_str(const struct layers_change *c, size_t n)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; i < n; i++)
		sbuf_addf(&b, "%s %s\n", overlay_change_letter(c[i].kind), c[i].path);
	return sbuf_detach(&b, NULL);
}

/* ---- scenarios run in a child with its own mount namespace ---- */

#define T_CHECK(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);   \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

#define T_OK(ret, err) T_CHECK((ret) >= 0, "%s", strata_error_msg(err))

/* Makes fsopen(2) fail with ENOSYS, as on a kernel without the new mount API (crun tests/no_openat2.c). */
static int deny_fsopen(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -1;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(fsopen), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/*
 * Runs @fn in a forked child in a private mount namespace (so nothing it
 * mounts outlives it, even when it fails), optionally without fsopen;
 * returns the child's wait status.
 */
static int run_scenario(int (*fn)(void), bool no_fsopen)
{
	pid_t pid = fork();
	int st = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r;

		if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
			perror("private mount namespace");
			_exit(2);
		}
		if (no_fsopen && deny_fsopen() < 0) {
			fprintf(stderr, "cannot load the seccomp filter\n");
			_exit(2);
		}
		r = fn();
		fflush(stderr);
		_exit(r == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* Asserts that scenario @fn passed (exit status 0 in its child). */
#define ck_assert_scenario(fn, no_fsopen)                                                          \
	do {                                                                                       \
		int st_ = run_scenario(fn, no_fsopen);                                             \
		ck_assert_msg(WIFEXITED(st_) && WEXITSTATUS(st_) == 0,                             \
			      "scenario failed (status 0x%x)", st_);                               \
	} while (0)

/* ---- backends ---- */

START_TEST(test_backend_names)
{
	cleanup_error struct strata_error *err = NULL;

	ck_assert(overlay_backend_is_valid("overlay"));
	ck_assert(overlay_backend_is_valid("aufs"));
	ck_assert(overlay_backend_is_valid("vfs"));
	ck_assert(!overlay_backend_is_valid("btrfs"));
	ck_assert(!overlay_backend_is_valid(NULL));
	ck_assert_int_eq(overlay_backend_check("btrfs", &err), -1);
	ck_assert_int_eq(strata_error_code(err), EINVAL);
	ck_assert_ok(overlay_backend_check("vfs", NULL), NULL);
}
END_TEST

START_TEST(test_backend_pick)
{
	/* root: overlay where the kernel has it */
	ck_assert_str_eq(overlay_backend_pick(true, true, false), "overlay");
	ck_assert_str_eq(overlay_backend_pick(true, false, false), "vfs");
	/* another user: overlay only where it can be mounted in a user namespace */
	ck_assert_str_eq(overlay_backend_pick(false, true, true), "overlay");
	ck_assert_str_eq(overlay_backend_pick(false, true, false), "vfs");
	ck_assert_str_eq(overlay_backend_pick(false, false, false), "vfs");
}
END_TEST

START_TEST(test_kernel_versions)
{
	ck_assert(overlay_kernel_at_least("6.18.44-fc-v1045", 5, 11));
	ck_assert(overlay_kernel_at_least("5.11.0", 5, 11));
	ck_assert(overlay_kernel_at_least("5.12", 5, 11));
	ck_assert(!overlay_kernel_at_least("5.10.200-lts", 5, 11));
	ck_assert(!overlay_kernel_at_least("4.19.0", 5, 11));
	ck_assert(!overlay_kernel_at_least("garbage", 5, 11));
	ck_assert(!overlay_kernel_at_least(NULL, 5, 11));
}
END_TEST

START_TEST(test_backend_default_and_aufs)
{
	cleanup_error struct strata_error *err = NULL;
	bool has_aufs = unit_sh("grep -qw aufs /proc/filesystems") == 0;

	/* Root on a kernel with overlayfs (this suite's machine): overlay. */
	ck_assert_str_eq(overlay_backend_default(), "overlay");
	ck_assert_ok(overlay_backend_check("overlay", &err), err);
	if (has_aufs)
		return;
	ck_assert_int_eq(overlay_backend_check("aufs", &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENODEV);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "no aufs"));
	ck_assert_ptr_null(strchr(strata_error_msg(err), '\n'));
}
END_TEST

/* ---- aufs options (no mount) ---- */

START_TEST(test_aufs_options)
{
	cleanup_error struct strata_error *err = NULL;
	char l3[] = "/l/3", l2[] = "/l/2", l1[] = "/l/1", bad[] = "/l/a:b";
	char *lowers[] = { l3, l2, l1, NULL };
	struct overlay_stack st = { .lowers = lowers, .n_lowers = 3, .upper = "/c/upper" };
	cleanup_strv char **append = NULL;
	char *o;

	o = overlay_aufs_options(&st, 4096, &append, &err);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(o, "br:/c/upper=rw:/l/3=ro+wh:/l/2=ro+wh:/l/1=ro+wh,dio,xino=/dev/shm/aufs.xino");
	ck_assert_ptr_null(append);
	free(o);

	/* Read-only: the top lower is the first branch. */
	st.upper = NULL;
	o = overlay_aufs_options(&st, 4096, &append, &err);
	ck_assert_str_eq(o, "br:/l/3=ro+wh:/l/2=ro+wh:/l/1=ro+wh,dio,xino=/dev/shm/aufs.xino");
	free(o);

	/* What does not fit in the page is appended by remounts, in order. */
	st.upper = "/c/upper";
	o = overlay_aufs_options(&st, 60, &append, &err);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(o, "br:/c/upper=rw:/l/3=ro+wh,dio,xino=/dev/shm/aufs.xino");
	ck_assert_int_le(strlen(o), 59);
	ck_assert_int_eq(strv_len(append), 2);
	ck_assert_str_eq(append[0], "append:/l/2=ro+wh");
	ck_assert_str_eq(append[1], "append:/l/1=ro+wh");
	free(o);
	strv_free(append);
	append = NULL;

	/* aufs cannot escape ':' in a branch path. */
	lowers[1] = bad;
	ck_assert_ptr_null(overlay_aufs_options(&st, 4096, &append, &err));
	ck_assert_int_eq(strata_error_code(err), EINVAL);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "/l/a:b"));
}
END_TEST

/* An aufs upper dir over two aufs-format lowers: whiteouts, opaque dirs, internals. */
START_TEST(test_aufs_diff)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *l1 = sp("l1");
	cleanup_free char *l2 = sp("l2");
	cleanup_free char *up = sp("up");
	char *lowers[] = { l2, l1, NULL };
	struct layers_change *c = NULL;
	cleanup_free char *s = NULL;
	cleanup_close int ufd = -1;
	size_t n = 0;

	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p l1/etc l1/opt/old l1/var && touch l1/etc/passwd "
				 "l1/etc/gone l1/opt/old/f l1/var/x && "
				 "mkdir -p l2/etc && touch l2/etc/hosts l2/etc/.wh.gone", scratch), 0);
	/* The upper: a change, an addition, deletions, an opaque dir, aufs' own dirs. */
	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p up/etc up/opt up/.wh..wh.plnk up/.wh..wh.orph && "
				 "touch up/etc/passwd up/etc/new up/etc/.wh.hosts up/.wh.var "
				 "up/.wh..wh.aufs up/opt/.wh..wh..opq up/opt/fresh", scratch), 0);
	ufd = open(up, O_RDONLY | O_DIRECTORY);
	ck_assert_ok(overlay_diff_upper(ufd, LAYERS_WHITEOUT_AUFS, lowers, 2, LAYERS_WHITEOUT_AUFS,
					&c, &n, &err), err);
	s = changes_str(c, n);
	/* Sorted by path. */
	ck_assert_str_eq(s, "C etc\nD etc/hosts\nA etc/new\nC etc/passwd\nC opt\nA opt/fresh\nD opt/old\nD var\n");
	overlay_changes_free(c, n);
}
END_TEST

/* ---- overlay-format upper dirs (root: 0:0 devices, trusted xattrs) ---- */

START_TEST(test_overlay_diff)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *l1 = sp("l1");
	cleanup_free char *l2 = sp("l2");
	cleanup_free char *up = sp("up");
	char *lowers[] = { l2, l1, NULL };
	struct layers_change *c = NULL;
	cleanup_free char *s = NULL;
	cleanup_close int ufd = -1;
	size_t n = 0;

	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p l1/a/b l1/d/old l1/gone-dir && touch l1/a/b/f "
				 "l1/a/keep l1/d/old/x l1/d/y l1/top && "
				 "mkdir -p l2/a && mknod l2/a/keep c 0 0 && touch l2/a/two",
				 scratch), 0);
	/* Upper: a/keep was deleted below, so it is new here; d is opaque. */
	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p up/a/b up/d up/new/deep && touch up/a/keep "
				 "up/a/b/f up/d/y up/new/deep/z && mknod up/top c 0 0 && "
				 "mknod up/gone-dir c 0 0", scratch), 0);
	{
		cleanup_free char *d = sp("up/d");

		ck_assert_int_eq(lsetxattr(d, "trusted.overlay.opaque", "y", 1, 0), 0);
	}
	ufd = open(up, O_RDONLY | O_DIRECTORY);
	ck_assert_ok(overlay_diff_upper(ufd, LAYERS_WHITEOUT_OVERLAY, lowers, 2,
					LAYERS_WHITEOUT_OVERLAY, &c, &n, &err), err);
	s = changes_str(c, n);
	ck_assert_str_eq(s, "C a\n"
			    "C a/b\n"
			    "C a/b/f\n"
			    "A a/keep\n"
			    "C d\n"
			    "D d/old\n"
			    "C d/y\n"
			    "D gone-dir\n"
			    "A new\n"
			    "A new/deep\n"
			    "A new/deep/z\n"
			    "D top\n");
	overlay_changes_free(c, n);
}
END_TEST

/* ---- full trees (vfs) ---- */

START_TEST(test_diff_trees)
{
	cleanup_error struct strata_error *err = NULL;
	struct layers_change *c = NULL;
	cleanup_free char *s = NULL;
	cleanup_close int nfd = -1;
	cleanup_close int ofd = -1;
	size_t n = 0;

	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p old/etc old/dir/sub old/same && "
				 "echo a > old/etc/f && echo b > old/etc/g && ln -s x old/l && "
				 "touch old/dir/sub/z old/same/s && cp -a old new && "
				 "echo changed > new/etc/f && rm new/etc/g && mkdir -p new/add/in && "
				 "touch new/add/in/t && rm -rf new/dir && ln -sfn y new/l && "
				 "chmod 700 new/same",
				 scratch), 0);
	{
		cleanup_free char *np = sp("new");
		cleanup_free char *op = sp("old");

		nfd = open(np, O_RDONLY | O_DIRECTORY);
		ofd = open(op, O_RDONLY | O_DIRECTORY);
	}
	ck_assert_ok(overlay_diff_trees(nfd, ofd, &c, &n, &err), err);
	s = changes_str(c, n);
	ck_assert_str_eq(s, "A add\n"
			    "A add/in\n"
			    "A add/in/t\n"
			    "D dir\n"
			    "C etc\n"
			    "C etc/f\n"
			    "D etc/g\n"
			    "C l\n"
			    "C same\n");
	overlay_changes_free(c, n);
}
END_TEST

/* ---- mounts ---- */

/* Makes @n lower dirs lN (l0 at the bottom) with a file "fN" each and "top" saying N. */
static int make_lowers(int n, const char *base, char ***out)
{
	char **v = xcalloc((size_t)n + 1, sizeof(char *));

	for (int i = 0; i < n; i++) {
		char *d = xasprintf("%s/l%d", base, i);
		char *f = xasprintf("%s/f%d", d, i);
		char *t = xasprintf("%s/top", d);
		char num[16];

		snprintf(num, sizeof(num), "%d", i);
		if (mkdir(d, 0755) < 0)
			return -1;
		unit_write_file(f, "x", 0644);
		unit_write_file(t, num, 0644);
		free(f);
		free(t);
		v[n - 1 - i] = d; /* top first */
	}
	*out = v;
	return 0;
}

static char *read_small(const char *path)
{
	char *buf = NULL;

	if (file_read_at(AT_FDCWD, path, 4096, &buf, NULL, NULL) < 0)
		return NULL;
	return buf;
}

static int scenario_mount_basic(void)
{
	struct strata_error *err = NULL;
	cleanup_free char *base = sp("m");
	cleanup_free char *upper = sp("m/upper");
	cleanup_free char *work = sp("m/work");
	cleanup_free char *merged = sp("m/merged");
	cleanup_free char *ro = sp("m/ro");
	cleanup_free char *links = sp("m/l");
	cleanup_strv char **lowers = NULL;
	cleanup_strv char **under = NULL;
	cleanup_free char *top = NULL;
	struct overlay_stack st;
	struct stat sb;
	char v[2];

	T_CHECK(mkdir(base, 0755) == 0 && mkdir(upper, 0755) == 0 && mkdir(work, 0700) == 0 &&
			mkdir(merged, 0755) == 0 && mkdir(ro, 0755) == 0,
		"mkdir");
	T_CHECK(make_lowers(3, base, &lowers) == 0, "lowers");
	st = (struct overlay_stack){ lowers, 3, upper, work, links, false };
	T_OK(overlay_mount("overlay", &st, merged, &err), err);
	T_CHECK(overlay_is_mounted(merged), "not in mountinfo");
	top = xasprintf("%s/top", merged);
	{
		cleanup_free char *t = read_small(top);

		T_CHECK(t && strcmp(t, "2") == 0, "top layer wins, got '%s'", t ? t : "");
	}
	/* A write lands in upper; deleting a lower file leaves a 0:0 whiteout there. */
	{
		cleanup_free char *nf = xasprintf("%s/new", merged);
		cleanup_free char *nu = xasprintf("%s/new", upper);
		cleanup_free char *f0 = xasprintf("%s/f0", merged);
		cleanup_free char *w0 = xasprintf("%s/f0", upper);

		unit_write_file(nf, "hello", 0644);
		T_CHECK(access(nu, F_OK) == 0, "write not in upper");
		T_CHECK(unlink(f0) == 0, "unlink: %s", strerror(errno));
		T_CHECK(lstat(w0, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0),
			"no whiteout in upper");
	}
	/* rm -rf dir && mkdir dir gives an opaque dir in upper. */
	T_CHECK(unit_sh("mkdir '%s/l0/dir' '%s/l0/dir2' && touch '%s/l0/dir/old' && "
			"echo data > '%s/l0/dir2/inner' && echo data > '%s/l1/f1'",
			base, base, base, base, base) == 0,
		"dir");
	T_OK(overlay_umount(merged, false, &err), err);
	T_OK(overlay_mount("overlay", &st, merged, &err), err);
	T_CHECK(unit_sh("rm -rf '%s/dir' && mkdir '%s/dir' && touch '%s/dir/new'", merged, merged,
			merged) == 0,
		"rm -rf && mkdir");
	{
		cleanup_free char *od = xasprintf("%s/dir", upper);

		T_CHECK(lgetxattr(od, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
			"dir is not opaque in upper");
	}
	/*
	 * redirect_dir=off and metacopy=off in force: a renamed lower dir is
	 * copied whole into upper, and a chmod copies the data up too, so
	 * the upper dir alone holds the change.
	 */
	T_CHECK(unit_sh("mv '%s/dir2' '%s/moved' && chmod 600 '%s/f1'", merged, merged, merged) == 0,
		"mv, chmod");
	T_CHECK(unit_sh("test -f '%s/moved/inner' && test -s '%s/f1'", upper, upper) == 0,
		"renamed dir or chmodded file not whole in upper");
	{
		cleanup_free char *mv = xasprintf("%s/moved", upper);
		cleanup_free char *f1 = xasprintf("%s/f1", upper);

		T_CHECK(lgetxattr(mv, "trusted.overlay.redirect", v, sizeof(v)) < 0, "redirect xattr");
		T_CHECK(lgetxattr(f1, "trusted.overlay.metacopy", v, sizeof(v)) < 0, "metacopy xattr");
	}
	T_OK(overlay_mounts_under(base, &under, &err), err);
	T_CHECK(strv_len(under) == 1 && strcmp(under[0], merged) == 0, "mounts under");

	/* Read-only: no upper; and a single lower is a read-only bind mount. */
	st = (struct overlay_stack){ lowers, 3, NULL, NULL, links, false };
	T_OK(overlay_mount("overlay", &st, ro, &err), err);
	T_CHECK(unit_sh("touch '%s/x' 2>/dev/null", ro) != 0, "read-only mount is writable");
	T_OK(overlay_umount(ro, false, &err), err);
	st.n_lowers = 1;
	T_OK(overlay_mount("overlay", &st, ro, &err), err);
	T_CHECK(overlay_is_mounted(ro), "bind");
	T_CHECK(unit_sh("test -e '%s/f2' && ! touch '%s/x' 2>/dev/null", ro, ro) == 0, "ro bind");
	T_OK(overlay_umount(ro, false, &err), err);

	/* Busy: EBUSY, unless forced (lazy detach). */
	{
		cleanup_free char *in = xasprintf("%s/new", merged);
		int fd = open(in, O_RDONLY);

		T_CHECK(fd >= 0, "open");
		T_CHECK(overlay_umount(merged, false, &err) == -1 && strata_error_code(err) == EBUSY,
			"busy umount succeeded");
		strata_error_free(err);
		err = NULL;
		T_OK(overlay_umount(merged, true, &err), err);
		close(fd);
	}
	T_CHECK(!overlay_is_mounted(merged), "still mounted");
	/* Unmounting what is not mounted is fine. */
	T_OK(overlay_umount(merged, false, &err), err);
	return 0;
}

/*
 * Rootless: as root of a user namespace that maps one id, layer dirs mark
 * opaque dirs with user.overlay.opaque, overlayfs is mounted with
 * userxattr and honours that marker, and writes its own under user.* too.
 */
static int scenario_mount_userns(void)
{
	struct strata_error *err = NULL;
	cleanup_free char *base = sp("u");
	cleanup_free char *upper = sp("u/upper");
	cleanup_free char *work = sp("u/work");
	cleanup_free char *merged = sp("u/merged");
	cleanup_free char *mi = NULL;
	cleanup_strv char **lowers = NULL;
	struct overlay_stack st;
	char v[2];

	T_CHECK(mkdir(base, 0755) == 0 && mkdir(upper, 0755) == 0 && mkdir(work, 0700) == 0 &&
			mkdir(merged, 0755) == 0,
		"mkdir");
	T_CHECK(make_lowers(2, base, &lowers) == 0, "lowers");
	T_CHECK(unit_sh("mkdir '%s/l0/od' '%s/l1/od' '%s/l0/keep' && touch '%s/l0/od/hidden' "
			"'%s/l1/od/shown' '%s/l0/keep/old'",
			base, base, base, base, base, base) == 0,
		"dirs");
	T_OK(launch_userns_enter(NULL, &err), err);
	T_CHECK(!sys_userns_is_initial() && !sys_is_host_root(), "still in the initial namespace");
	T_CHECK(strcmp(layers_opaque_xattr(), "user.overlay.opaque") == 0, "opaque xattr is %s",
		layers_opaque_xattr());
	{
		cleanup_free char *od = xasprintf("%s/l1/od", base);

		T_CHECK(lsetxattr(od, layers_opaque_xattr(), "y", 1, 0) == 0, "setxattr: %s",
			strerror(errno));
	}
	st = (struct overlay_stack){ lowers, 2, upper, work, NULL, false };
	T_OK(overlay_mount("overlay", &st, merged, &err), err);
	T_CHECK(file_read_at(AT_FDCWD, "/proc/self/mountinfo", 1 << 20, &mi, NULL, NULL) == 0 &&
			strstr(mi, "userxattr"),
		"not mounted with userxattr");
	T_CHECK(unit_sh("test -e '%s/od/shown' && ! test -e '%s/od/hidden'", merged, merged) == 0,
		"the lower's user.overlay.opaque is not honoured");
	T_CHECK(unit_sh("rm -rf '%s/keep' && mkdir '%s/keep'", merged, merged) == 0, "rm, mkdir");
	{
		cleanup_free char *kd = xasprintf("%s/keep", upper);

		T_CHECK(lgetxattr(kd, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
			"the new dir is not opaque (user.overlay.opaque) in upper");
	}
	T_OK(overlay_umount(merged, false, &err), err);
	return 0;
}

START_TEST(test_mount_userns)
{
	ck_assert_scenario(scenario_mount_userns, false);
}
END_TEST

START_TEST(test_mount_new_api)
{
	/* valgrind does not know fsopen: there the probe falls back, as it should */
	if (!getenv("STRATA_UNDER_VALGRIND"))
		ck_assert_str_eq(overlay_mount_api(), "fsopen");
	ck_assert_scenario(scenario_mount_basic, false);
}
END_TEST

static int check_api_legacy(void)
{
	T_CHECK(strcmp(overlay_mount_api(), "mount(2)") == 0, "api is %s", overlay_mount_api());
	return scenario_mount_basic();
}

START_TEST(test_mount_fallback)
{
	ck_assert_scenario(check_api_legacy, true);
}
END_TEST

/*
 * Deep stacks: 500 lowers with long paths. With fsopen all go in; with
 * mount(2) the options pass a page, so short links are used, and the
 * most that fit is fewer than 500.
 */
static int scenario_deep(void)
{
	struct strata_error *err = NULL;
	cleanup_free char *base = NULL;
	cleanup_free char *upper = sp("upper");
	cleanup_free char *work = sp("work");
	cleanup_free char *merged = sp("merged");
	cleanup_free char *links = sp("links");
	cleanup_strv char **lowers = NULL;
	struct overlay_stack st;
	size_t max;
	bool legacy = strcmp(overlay_mount_api(), "mount(2)") == 0;

	base = sp("a-rather-long-directory-name-to-make-every-lower-path-longer-than-usual");
	T_CHECK(mkdir(base, 0755) == 0 && mkdir(upper, 0755) == 0 && mkdir(work, 0700) == 0 &&
			mkdir(merged, 0755) == 0,
		"mkdir");
	T_CHECK(make_lowers(OVERLAY_MAX_LOWERS, base, &lowers) == 0, "lowers");
	st = (struct overlay_stack){ lowers, OVERLAY_MAX_LOWERS, upper, work, links, false };
	max = overlay_max_lowers("overlay", &st);
	if (!legacy) {
		T_CHECK(max == OVERLAY_MAX_LOWERS, "max %zu", max);
	} else {
		T_CHECK(max > 200 && max < OVERLAY_MAX_LOWERS, "max %zu", max);
		st.lowers = lowers + (OVERLAY_MAX_LOWERS - max); /* the lowest max of them */
	}
	st.n_lowers = max;
	T_OK(overlay_mount("overlay", &st, merged, &err), err);
	{
		cleanup_free char *bottom = xasprintf("%s/f0", merged);
		cleanup_free char *topf = xasprintf("%s/f%zu", merged, max - 1);

		T_CHECK(access(bottom, F_OK) == 0, "bottom layer file missing");
		T_CHECK(access(topf, F_OK) == 0, "top layer file missing");
	}
	if (legacy)
		T_CHECK(unit_sh("test $(ls '%s' | wc -l) -eq %zu", links, max) == 0, "short links");
	T_OK(overlay_umount(merged, false, &err), err);
	/* One more than the kernel takes is an error that says so. */
	if (!legacy) {
		char **more = xcalloc(OVERLAY_MAX_LOWERS + 2, sizeof(char *));

		for (size_t i = 0; i < OVERLAY_MAX_LOWERS; i++)
			more[i] = lowers[i];
		more[OVERLAY_MAX_LOWERS] = lowers[0];
		st = (struct overlay_stack){ more, OVERLAY_MAX_LOWERS + 1, upper, work, links, false };
		T_CHECK(overlay_mount("overlay", &st, merged, &err) == -1, "501 lowers mounted");
		T_CHECK(strstr(strata_error_msg(err), "too many lower"), "message: %s",
			strata_error_msg(err));
		T_CHECK(!strchr(strata_error_msg(err), '\n'), "multi-line error");
		strata_error_free(err);
		free(more);
	}
	return 0;
}

START_TEST(test_mount_deep)
{
	ck_assert_scenario(scenario_deep, false);
}
END_TEST

START_TEST(test_mount_deep_fallback)
{
	ck_assert_scenario(scenario_deep, true);
}
END_TEST

/* ---- container lifecycle on a real store ---- */

/* Imports the tar of directory @dir (relative to scratch) as one layer blob. */
static int import_dir(struct store *s, const char *dir, struct store_desc *d, char *diff_id,
		      struct strata_error **err)
{
	cleanup_free char *tar = xasprintf("%s/%s.tar", scratch, dir);
	cleanup_close int fd = -1;
	struct layers_blob b;

	if (unit_sh("tar --numeric-owner -C '%s/%s' -cf '%s' .", scratch, dir, tar) != 0)
		return strata_fail_msg(err, EIO, "tar '%s'", dir);
	fd = open(tar, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || layers_import_tar(s, fd, LAYERS_COMPRESSION_GZIP, 0, &b, err) < 0)
		return -1;
	memset(d, 0, sizeof(*d));
	d->media_type = xstrdup(b.media_type);
	memcpy(d->digest, b.digest, DIGEST_STR_LEN);
	d->size = (int64_t)b.size;
	memcpy(diff_id, b.diff_id, DIGEST_STR_LEN);
	return 0;
}

/*
 * t:1, two layers: etc/passwd, data/a, data/d/x below; data/b and a
 * whiteout of data/a above.
 */
static int make_image(struct store *s, struct strata_error **err)
{
	struct store_desc d[2];
	char diff[2][DIGEST_STR_LEN];
	cleanup_json json_t *config = store_config_new(0);
	int r;

	if (unit_sh("cd '%s' && mkdir -p l1/etc l1/data/d l2/data && echo root > l1/etc/passwd && "
		    "echo a > l1/data/a && echo x > l1/data/d/x && echo b > l2/data/b && "
		    "touch l2/data/.wh.a", scratch) != 0)
		return strata_fail_msg(err, EIO, "make layer dirs");
	if (import_dir(s, "l1", &d[0], diff[0], err) < 0 ||
	    import_dir(s, "l2", &d[1], diff[1], err) < 0)
		return -1;
	store_config_add_diff_id(config, diff[0]);
	store_config_add_diff_id(config, diff[1]);
	r = store_image_write(s, config, d, 2, "t:1", NULL, NULL, err);
	free(d[0].media_type);
	free(d[1].media_type);
	return r;
}

static const char *lifecycle_backend;

static int scenario_lifecycle(void)
{
	struct strata_error *err = NULL;
	cleanup_free char *root = sp("root");
	cleanup_free char *cdir = NULL;
	cleanup_free char *m1 = NULL;
	cleanup_free char *m1b = NULL;
	cleanup_free char *m2 = NULL;
	cleanup_strv char **left = NULL;
	cleanup_json json_t *rec = NULL;
	struct layers_change *ch = NULL;
	struct store_image *img = NULL;
	struct store_image *img2 = NULL;
	struct overlay_commit_opts co = { .compression = LAYERS_COMPRESSION_ZSTD, .timestamp = -1,
					  .tag = "t:2", .message = "unit" };
	char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
	char image_id[DIGEST_STR_LEN];
	const char *be = lifecycle_backend;
	bool mounts = strcmp(be, "vfs") != 0;
	struct store *s = NULL;
	size_t n = 0;

	T_OK(store_open(root, &s, &err), err);
	T_OK(make_image(s, &err), err);
	T_OK(store_image_load(s, "t:1", &img, &err), err);
	T_OK(overlay_container_create(s, be, img, "u1", NULL, 0, id1, &err), err);
	T_CHECK(strlen(id1) == STORE_ID_LEN, "id '%s'", id1);
	rec = store_container_load(s, id1, &err);
	T_CHECK(rec && strcmp(jv_str(rec, "Backend"), be) == 0 &&
			strcmp(jv_str(rec, "ImageDigest"), img->manifest_digest) == 0 &&
			strcmp(jv_str(rec, "Name"), "u1") == 0,
		"record");

	/* Two users, one mount. */
	T_OK(overlay_container_mount(s, id1, &m1, &err), err);
	T_OK(overlay_container_mount(s, id1, &m1b, &err), err);
	T_CHECK(strcmp(m1, m1b) == 0, "paths differ");
	T_CHECK(overlay_is_mounted(m1) == mounts, "mounted: %d", overlay_is_mounted(m1));
	T_CHECK(unit_sh("test -f '%s/data/b' && test ! -e '%s/data/a' && test -f '%s/data/d/x'", m1,
			m1, m1) == 0,
		"the layers are not stacked with their whiteouts");
	T_CHECK(unit_sh("echo new > '%s/new' && rm '%s/etc/passwd' && rm -rf '%s/data/d' && "
			"mkdir '%s/data/d' && touch '%s/data/d/y'",
			m1, m1, m1, m1, m1) == 0,
		"changes");
	T_OK(overlay_container_diff(s, id1, &ch, &n, &err), err);
	{
		cleanup_free char *got = changes_str(ch, n);

		T_CHECK(strcmp(got, "C data\nC data/d\nD data/d/x\nA data/d/y\nC etc\nD etc/passwd\n"
				    "A new\n") == 0,
			"diff:\n%s", got);
	}
	overlay_changes_free(ch, n);
	T_OK(overlay_container_umount(s, id1, false, &err), err);
	T_CHECK(overlay_is_mounted(m1) == mounts, "unmounted with a user left");
	T_OK(overlay_container_umount(s, id1, false, &err), err);
	T_CHECK(!overlay_is_mounted(m1), "mounted after the last umount");

	/* Commit, and a container of the new image sees the change. */
	T_OK(overlay_container_commit(s, id1, &co, image_id, &err), err);
	T_OK(store_image_load(s, "t:2", &img2, &err), err);
	T_CHECK(strcmp(img2->id, image_id) == 0 && img2->n_layers == 3, "committed image");
	T_OK(overlay_container_create(s, be, img2, NULL, NULL, 0, id2, &err), err);
	T_OK(overlay_container_mount(s, id2, &m2, &err), err);
	T_CHECK(unit_sh("test \"$(cat '%s/new')\" = new && test ! -e '%s/etc/passwd' && "
			"test \"$(ls '%s/data/d')\" = y && test -f '%s/data/b'",
			m2, m2, m2, m2) == 0,
		"committed change not seen");
	T_OK(overlay_container_diff(s, id2, &ch, &n, &err), err);
	T_CHECK(n == 0, "a fresh container has %zu changes", n);
	overlay_changes_free(ch, n);

	/* rm (one of them still mounted): nothing left mounted or on disk. */
	T_OK(overlay_container_remove(s, id1, false, &err), err);
	T_OK(overlay_container_remove(s, id2, false, &err), err);
	cdir = xasprintf("%s/containers", store_root(s));
	T_OK(overlay_mounts_under(cdir, &left, &err), err);
	T_CHECK(left[0] == NULL, "left mounted: %s", left[0]);
	T_CHECK(unit_sh("test -z \"$(ls -A '%s')\"", cdir) == 0, "container dirs left");
	store_image_free(img);
	store_image_free(img2);
	store_free(s);
	return 0;
}

START_TEST(test_lifecycle_overlay)
{
	lifecycle_backend = "overlay";
	ck_assert_scenario(scenario_lifecycle, false);
}
END_TEST

START_TEST(test_lifecycle_overlay_fallback)
{
	lifecycle_backend = "overlay";
	ck_assert_scenario(scenario_lifecycle, true);
}
END_TEST

START_TEST(test_lifecycle_vfs)
{
	lifecycle_backend = "vfs";
	ck_assert_scenario(scenario_lifecycle, false);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("overlay");
	TCase *tc;

	tc = tcase_create("backends");
	tcase_add_test(tc, test_backend_names);
	tcase_add_test(tc, test_backend_pick);
	tcase_add_test(tc, test_kernel_versions);
	suite_add_tcase(s, tc);

	tc = tcase_create("mount-userns");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_mount_userns);
	unit_need_root(s, tc, "a mount namespace first, then the user namespace");

	tc = tcase_create("backend-default");
	tcase_add_test(tc, test_backend_default_and_aufs);
	unit_need_root(s, tc, "the default backend is overlay only for root");

	tc = tcase_create("aufs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_aufs_options);
	tcase_add_test(tc, test_aufs_diff);
	suite_add_tcase(s, tc);

	tc = tcase_create("diff");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_overlay_diff);
	tcase_add_test(tc, test_diff_trees);
	unit_need_root(s, tc, "makes 0:0 whiteout devices and trusted xattrs");

	tc = tcase_create("mount");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mount_new_api);
	tcase_add_test(tc, test_mount_deep);
	unit_need_root(s, tc, "mounts overlayfs");

	tc = tcase_create("mount-fallback");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mount_fallback);
	tcase_add_test(tc, test_mount_deep_fallback);
	unit_need_root(s, tc, "mounts overlayfs with mount(2) under a seccomp filter");

	tc = tcase_create("containers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_lifecycle_overlay);
	tcase_add_test(tc, test_lifecycle_overlay_fallback);
	tcase_add_test(tc, test_lifecycle_vfs);
	unit_need_root(s, tc, "mounts container filesystems");
	return s;
}
