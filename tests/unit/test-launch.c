/*
 * launch: the cgroup writers (v2 and v1, against fake trees in a scratch
 * directory), signal names, and the command, env and user rules of a
 * container spec.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/launch.h"
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

static char *slurp(const char *dir, const char *file)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	char *buf = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, p, 4096, &buf, &len, NULL) < 0)
		return NULL;
	while (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	return buf;
}

static void mkdirs(const char *p)
{
	cleanup_error struct strata_error *err = NULL;

	ck_assert_ok(path_mkdir_p(p, 0755, &err), err);
}

START_TEST(test_cgroup_v2_fake_tree)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg2", scratch);
	cleanup_free char *self = xasprintf("%s/self", scratch);
	cleanup_free char *base = xasprintf("%s/user.slice/me", mnt);
	cleanup_free char *dir = xasprintf("%s/strata/c1", base);
	cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", mnt);
	struct launch_limits l = { .memory = 64 << 20, .memory_swap = -1, .cpu_quota = 50000,
				   .cpu_period = 100000, .cpu_shares = 1024, .pids = 20,
				   .cpuset = "0-1" };
	struct launch_cgroup *cg = NULL, *back;
	json_t *j;
	char *v;

	mkdirs(base);
	unit_write_file(ctl, "cpuset cpu io memory pids\n", 0644);
	unit_write_file(self, "0::/user.slice/me\n", 0644);
	ck_assert_int_eq(launch_cgroup_version(mnt), 2);
	ck_assert_ok(launch_cgroup_create(mnt, 0, self, "c1", &l, &cg, &err), err);
	/* made under the cgroup this process is in, never at the top */
#define EXPECT(file, want)                                                                         \
	do {                                                                                       \
		v = slurp(dir, file);                                                              \
		ck_assert_msg(v && !strcmp(v, want), "%s: '%s', want '%s'", file, v ? v : "(none)", \
			      want);                                                               \
		free(v);                                                                           \
	} while (0)
	EXPECT("memory.max", "67108864");
	EXPECT("memory.swap.max", "max");
	EXPECT("cpu.max", "50000 100000");
	EXPECT("cpu.weight", "39");
	EXPECT("pids.max", "20");
	EXPECT("cpuset.cpus", "0-1");
	v = slurp(base, "strata/cgroup.subtree_control");
	ck_assert_ptr_nonnull(strstr(v, "+memory"));
	free(v);
	ck_assert_ok(launch_cgroup_add(cg, 4242, &err), err);
	EXPECT("cgroup.procs", "4242");
	/* not a cgroup2 filesystem: no clone3 into it */
	ck_assert_int_eq(launch_cgroup_v2_fd(cg), -1);
	/* freeze: writes cgroup.freeze and waits for cgroup.events to say so */
	{
		cleanup_free char *ev = xasprintf("%s/cgroup.events", dir);

		unit_write_file(ev, "populated 1\nfrozen 1\n", 0644);
		ck_assert_ok(launch_cgroup_freeze(cg, true, &err), err);
		EXPECT("cgroup.freeze", "1");
		unit_write_file(ev, "populated 1\nfrozen 0\n", 0644);
		ck_assert_ok(launch_cgroup_freeze(cg, false, &err), err);
		EXPECT("cgroup.freeze", "0");
	}
	/* stats */
	{
		struct launch_stats st;
		cleanup_free char *cur = xasprintf("%s/memory.current", dir);
		cleanup_free char *stat = xasprintf("%s/cpu.stat", dir);
		cleanup_free char *pids = xasprintf("%s/pids.current", dir);

		unit_write_file(cur, "1234\n", 0644);
		unit_write_file(stat, "usage_usec 777\nuser_usec 700\n", 0644);
		unit_write_file(pids, "3\n", 0644);
		ck_assert_ok(launch_cgroup_stats(cg, &st, &err), err);
		ck_assert_int_eq(st.memory, 1234);
		ck_assert_int_eq(st.memory_max, 64 << 20);
		ck_assert_int_eq(st.cpu_usec, 777);
		ck_assert_int_eq(st.pids, 3);
	}
	/* the record round trip */
	j = launch_cgroup_to_json(cg);
	back = launch_cgroup_from_json(j);
	json_decref(j);
	ck_assert_ptr_nonnull(back);
	launch_cgroup_free(cg);
	launch_cgroup_destroy(back);
	ck_assert_int_eq(access(dir, F_OK), -1);
}
END_TEST

START_TEST(test_cgroup_v1_fake_tree)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg1", scratch);
	cleanup_free char *self = xasprintf("%s/self", scratch);
	const char *ctrls[] = { "memory", "cpu", "pids", "freezer", "devices" };
	struct launch_device null_r = { (char *)"/dev/null", (char *)"/dev/n", LAUNCH_DEV_READ };
	struct launch_limits l = { .memory = 32 << 20, .cpu_quota = 25000, .cpu_shares = 512,
				   .pids = 10, .devices = &null_r, .n_devices = 1 };
	struct launch_cgroup *cg = NULL;
	char *v;

	for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
		cleanup_free char *d = xasprintf("%s/%s/box", mnt, ctrls[i]);

		mkdirs(d);
	}
	unit_write_file(self,
			"5:devices:/box\n4:memory:/box\n3:cpu,cpuacct:/box\n2:pids:/box\n"
			"1:freezer:/box\n0::/\n",
			0644);
	{
		/* the kernel's swap accounting file exists in the new group */
		cleanup_free char *sw = xasprintf("%s/memory/box/strata/c1/memory.memsw.limit_in_bytes",
						  mnt);
		cleanup_free char *d = xasprintf("%s/memory/box/strata/c1", mnt);

		mkdirs(d);
		unit_write_file(sw, "9223372036854771712\n", 0644);
	}
	ck_assert_ok(launch_cgroup_create(mnt, 1, self, "c1", &l, &cg, &err), err);
	{
		cleanup_free char *mem = xasprintf("%s/memory/box/strata/c1", mnt);
		cleanup_free char *cpu = xasprintf("%s/cpu/box/strata/c1", mnt);
		cleanup_free char *pids = xasprintf("%s/pids/box/strata/c1", mnt);
		const char *dir;

		dir = mem;
		EXPECT("memory.limit_in_bytes", "33554432");
		/* --memory alone: memory + swap twice the memory */
		EXPECT("memory.memsw.limit_in_bytes", "67108864");
		dir = cpu;
		EXPECT("cpu.cfs_quota_us", "25000");
		EXPECT("cpu.cfs_period_us", "100000");
		EXPECT("cpu.shares", "512");
		cleanup_free char *dev = xasprintf("%s/devices/box/strata/c1", mnt);

		dir = pids;
		EXPECT("pids.max", "10");
		/* every device denied, then the default set and --device allowed, one rule a line */
		dir = dev;
		EXPECT("devices.deny", "a");
		EXPECT("devices.allow", "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\n"
					"c 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\n"
					"c 136:* rwm\nc 1:3 r");
		(void)dir;
	}
	launch_cgroup_destroy(cg);
}
END_TEST

/*
 * A BPF interpreter for the instructions the device program uses: each
 * access is run through the generated program as the kernel would.
 */
static int bpf_eval(const struct bpf_insn *p, size_t len, unsigned type, unsigned access,
		    unsigned maj, unsigned min)
{
	uint32_t ctx[3] = { (access << 16) | type, maj, min };
	uint64_t r[11] = { 0 };

	for (size_t pc = 0; pc < len; pc++) {
		const struct bpf_insn *i = &p[pc];

		switch (i->code) {
		case BPF_LDX | BPF_W | BPF_MEM:
			ck_assert_int_eq(i->src_reg, BPF_REG_1);
			ck_assert(i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			r[i->dst_reg] = (uint32_t)r[i->src_reg];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += (size_t)i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			ck_abort_msg("instruction %zu: unexpected code 0x%x", pc, i->code);
		}
		ck_assert_uint_lt(pc + 1, len + 1);
	}
	ck_abort_msg("the program runs off its end");
	return -1;
}

START_TEST(test_device_program)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free struct launch_device_rule *rules = NULL;
	cleanup_free struct bpf_insn *prog = NULL;
	struct launch_device given = { (char *)"/dev/null", (char *)"/dev/x", LAUNCH_DEV_READ };
	struct launch_device_rule block = { 'b', 7, -1, LAUNCH_DEV_READ | LAUNCH_DEV_WRITE };
	size_t n, len;
	const unsigned C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK, M = BPF_DEVCG_ACC_MKNOD,
		       R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE;
	static const struct {
		unsigned type, access, maj, min;
		int want;
	} cases[] = {
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 1, 3, 1 },  /* null */
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 1, 9, 1 },			      /* urandom */
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_WRITE, 136, 4, 1 },		      /* pts/4 */
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 10, 183, 0 },		      /* hwrng */
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_MKNOD, 10, 183, 1 },		      /* mknod */
		{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ, 253, 0, 0 },		      /* zram0 */
		{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_MKNOD, 253, 0, 1 },
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE, 10, 232, 0 }, /* kvm */
		{ BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_ACC_READ, 1, 3, 0 }, /* the type counts */
		{ BPF_DEVCG_DEV_CHAR, BPF_DEVCG_ACC_READ, 5, 2, 1 },  /* ptmx */
	};

	ck_assert_ok(launch_device_rules(NULL, 0, &rules, &n, &err), err);
	prog = launch_device_bpf(rules, n, &len);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		ck_assert_msg(bpf_eval(prog, len, cases[i].type, cases[i].access, cases[i].maj,
				       cases[i].min) == cases[i].want,
			      "case %zu", i);
	free(prog);
	free(rules);
	/* a device given read-only: read yes, write no; a block major with any minor */
	ck_assert_ok(launch_device_rules(&given, 1, &rules, &n, &err), err);
	rules = xrealloc(rules, (n + 1) * sizeof(*rules));
	rules[n++] = block;
	prog = launch_device_bpf(rules, n, &len);
	ck_assert_int_eq(bpf_eval(prog, len, C, R, 1, 3), 1);
	ck_assert_int_eq(bpf_eval(prog, len, B, R | W, 7, 12), 1);
	ck_assert_int_eq(bpf_eval(prog, len, B, R | W | M, 8, 0), 0);
	ck_assert_int_eq(bpf_eval(prog, len, B, R, 8, 0), 0);
	ck_assert_int_eq(bpf_eval(prog, len, C, R, 10, 229), 0);
}
END_TEST

START_TEST(test_device_parse)
{
	static const struct {
		const char *arg, *src, *dst;
		unsigned access;
	} ok[] = {
		{ "/dev/fuse", "/dev/fuse", "/dev/fuse", 7 },
		{ "/dev/fuse:/dev/f", "/dev/fuse", "/dev/f", 7 },
		{ "/dev/fuse:r", "/dev/fuse", "/dev/fuse", LAUNCH_DEV_READ },
		{ "/dev/loop0:/dev/l:rw", "/dev/loop0", "/dev/l", LAUNCH_DEV_READ | LAUNCH_DEV_WRITE },
	};
	static const char *const bad[] = { "", "dev/fuse", "/dev/fuse:rx", "/dev/fuse:/x:rr",
					   "/a:/b:rw:x", "/dev/fuse:/x:", "/dev/fuse:f/x:rw" };

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		cleanup_error struct strata_error *err = NULL;
		struct launch_device d;

		ck_assert_ok(launch_device_parse(ok[i].arg, &d, &err), err);
		ck_assert_str_eq(d.source, ok[i].src);
		ck_assert_str_eq(d.destination, ok[i].dst);
		ck_assert_uint_eq(d.access, ok[i].access);
		free(d.source);
		free(d.destination);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		cleanup_error struct strata_error *err = NULL;
		struct launch_device d;

		ck_assert_msg(launch_device_parse(bad[i], &d, &err) == -1, "'%s' taken", bad[i]);
		ck_assert_int_eq(strata_error_code(err), EINVAL);
	}
}
END_TEST

/* v2 without the memory controller delegated: --memory says so, not EACCES. */
/*
 * A dead build's cgroup whose cgroup.procs holds 0 or a line that is no
 * number (a fake or damaged tree): removing it signals no process group.
 * Run in a child with its own process group beside a sleeping sibling:
 * kill(0, SIGKILL) would take both.
 */
START_TEST(test_cgroup_dead_build_signals_no_group)
{
	cleanup_free char *mnt = xasprintf("%s/cg2dead", scratch);
	cleanup_free char *self = xasprintf("%s/selfdead", scratch);
	cleanup_free char *dir = NULL;
	cleanup_free char *procs = NULL;
	cleanup_free char *ctl = xasprintf("%s/cg2dead/cgroup.controllers", scratch);
	pid_t dead, child, sib;
	int st;

	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	dir = xasprintf("%s/strata/build-%d-1", mnt, (int)dead);
	procs = xasprintf("%s/cgroup.procs", dir);
	mkdirs(dir);
	unit_write_file(ctl, "memory pids\n", 0644);
	unit_write_file(self, "0::/\n", 0644);
	unit_write_file(procs, "0\nnot-a-pid\n", 0644);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		setpgid(0, 0);
		sib = fork();
		if (sib == 0) {
			pause();
			_exit(0);
		}
		launch_cgroup_remove_dead_builds(mnt, self);
		_exit(kill(sib, 0) == 0 && kill(sib, SIGKILL) == 0 ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	ck_assert_int_ne(access(dir, F_OK), 0);
}
END_TEST

START_TEST(test_cgroup_v2_missing_controller)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg2", scratch);
	cleanup_free char *self = xasprintf("%s/self", scratch);
	cleanup_free char *base = xasprintf("%s/user.slice/me", mnt);
	cleanup_free char *dir = xasprintf("%s/strata/c1", base);
	cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", mnt);
	cleanup_free char *have = xasprintf("%s/cgroup.controllers", dir);
	struct launch_limits mem = { .memory = 64 << 20 }, pids = { .pids = 5 };
	struct launch_cgroup *cg = NULL;

	mkdirs(dir);
	unit_write_file(ctl, "cpuset cpu io memory pids\n", 0644);
	/* what the parent enabled: pids only (a cgroup2 tree where memory is not delegated) */
	unit_write_file(have, "pids\n", 0644);
	unit_write_file(self, "0::/user.slice/me\n", 0644);
	ck_assert_int_eq(launch_cgroup_create(mnt, 2, self, "c1", &mem, &cg, &err), -1);
	ck_assert_ptr_null(cg);
	ck_assert_int_eq(strata_error_code(err), ENODEV);
	ck_assert_msg(strstr(strata_error_msg(err), "--memory needs the memory controller, which is "
						    "not enabled (delegated) under") &&
			      strstr(strata_error_msg(err), "cgroup.subtree_control"),
		      "%s", strata_error_msg(err));
	ck_assert_ptr_null(strchr(strata_error_msg(err), '\n'));
	strata_error_free(err);
	err = NULL;
	/* a limit whose controller is there is written */
	mkdirs(dir);
	unit_write_file(have, "pids\n", 0644);
	ck_assert_ok(launch_cgroup_create(mnt, 2, self, "c1", &pids, &cg, &err), err);
	{
		cleanup_free char *v = slurp(dir, "pids.max");

		ck_assert_str_eq(v, "5");
	}
	launch_cgroup_destroy(cg);
}
END_TEST

START_TEST(test_cgroup_limits_without_a_hierarchy)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/nothing", scratch);
	struct launch_limits l = { .memory = 32 << 20 };
	struct launch_cgroup *cg = NULL;

	mkdirs(mnt);
	ck_assert_int_eq(launch_cgroup_version(mnt), 0);
	ck_assert_int_eq(launch_cgroup_create(mnt, 0, "/proc/self/cgroup", "c1", &l, &cg, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "no cgroup"));
}
END_TEST

/* Without root: the cgroup it runs in is used only when it may write it (delegated v2). */
START_TEST(test_cgroup_rootless)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg2", scratch);
	cleanup_free char *self = xasprintf("%s/self", scratch);
	cleanup_free char *other = xasprintf("%s/other", scratch);
	cleanup_free char *base = xasprintf("%s/user.slice/me", mnt);
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", base);
	cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", mnt);
	cleanup_free char *dir = xasprintf("%s/strata/c1", base);
	struct launch_limits none = { 0 }, mem = { .memory = 32 << 20 };
	struct launch_cgroup *cg = NULL;

	mkdirs(base);
	unit_write_file(ctl, "memory pids\n", 0644);
	unit_write_file(procs, "", 0644);
	unit_write_file(self, "0::/user.slice/me\n", 0644);
	unit_write_file(other, "0::/system.slice/gone\n", 0644);
	ck_assert(launch_limits_any(&mem));
	ck_assert(!launch_limits_any(&none));
	/* a cgroup that is not there (or not ours): none, quietly */
	ck_assert_ok(launch_cgroup_open(mnt, other, "c1", &none, false, &cg, &err), err);
	ck_assert_ptr_null(cg);
	/* ... but limits cannot be had without one */
	ck_assert_int_eq(launch_cgroup_open(mnt, other, "c1", &mem, false, &cg, &err), -1);
	ck_assert_int_eq(strata_error_code(err), EPERM);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "need root or a delegated cgroup"));
	ck_assert_ptr_null(cg);
	/* a delegated cgroup: the container's is made under it, with its limits */
	ck_assert_ok(launch_cgroup_open(mnt, self, "c1", &mem, false, &cg, &err), err);
	ck_assert_ptr_nonnull(cg);
	{
		cleanup_free char *v = slurp(dir, "memory.max");

		ck_assert_str_eq(v, "33554432");
	}
	launch_cgroup_destroy(cg);
	ck_assert_int_eq(access(dir, F_OK), -1);
	/* v1 is never delegated */
	{
		cleanup_free char *v1 = xasprintf("%s/cg1", scratch);
		cleanup_free char *memdir = xasprintf("%s/cg1/memory", scratch);

		mkdirs(memdir);
		cg = NULL;
		ck_assert_ok(launch_cgroup_open(v1, self, "c1", &none, false, &cg, NULL), NULL);
		ck_assert_ptr_null(cg);
	}
}
END_TEST

/*
 * The same choice made as root of a user namespace (a rootless command's):
 * a cgroup of ids mapped there (the user's, delegated) is written, one of
 * ids it does not map (the host's) is refused with the note.
 */
START_TEST(test_cgroup_rootless_userns)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg2", scratch);
	cleanup_free char *self = xasprintf("%s/self", scratch);
	cleanup_free char *base = xasprintf("%s/user.slice/me", mnt);
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", base);
	cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", mnt);
	cleanup_free char *dir = xasprintf("%s/strata/c1", base);
	struct launch_limits mem = { .memory = 32 << 20 };
	struct launch_cgroup *cg = NULL;

	mkdirs(base);
	unit_write_file(ctl, "memory pids\n", 0644);
	unit_write_file(procs, "", 0644);
	unit_write_file(self, "0::/user.slice/me\n", 0644);
	ck_assert_int_eq(chmod(scratch, 0755), 0);
	/* not delegated: the tree is an id the namespace does not map */
	ck_assert_int_eq(chown(base, 4000, 4000), 0);
	ck_assert_int_eq(chown(procs, 4000, 4000), 0);
	{
		pid_t pid = fork();
		int st = -1;

		if (pid == 0) {
			struct strata_error *e = NULL;
			struct launch_cgroup *c = NULL;

			if (launch_userns_enter(NULL, &e) < 0)
				_exit(2);
			if (launch_cgroup_open(mnt, self, "c1", &mem, false, &c, &e) == 0 || c ||
			    !strstr(strata_error_msg(e), "need root or a delegated cgroup"))
				_exit(3);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "not delegated: status %d", st);
	}
	/* delegated: the tree is the caller's, root in its namespace */
	ck_assert_int_eq(chown(base, getuid(), getgid()), 0);
	ck_assert_int_eq(chown(procs, getuid(), getgid()), 0);
	ck_assert_ok(launch_userns_enter(NULL, &err), err);
	ck_assert(!sys_is_host_root());
	ck_assert_ok(launch_cgroup_open(mnt, self, "c1", &mem, false, &cg, &err), err);
	ck_assert_ptr_nonnull(cg);
	{
		cleanup_free char *v = slurp(dir, "memory.max");

		ck_assert_str_eq(v, "33554432");
	}
	launch_cgroup_destroy(cg);
}
END_TEST

START_TEST(test_idmap)
{
	cleanup_free char *a = launch_idmap_line(0, 1000, 1);
	cleanup_free char *b = launch_idmap_line(1, 100000, 65536);

	ck_assert_str_eq(a, "0 1000 1\n");
	ck_assert_str_eq(b, "1 100000 65536\n");
	ck_assert(launch_userns_refused(EPERM));
	ck_assert(launch_userns_refused(EINVAL));
	ck_assert(launch_userns_refused(ENOSPC));
	ck_assert(!launch_userns_refused(ENOMEM));
}
END_TEST

START_TEST(test_subid_parse)
{
	static const char text[] = "# comment\n"
				   "alice:100000:65536\n"
				   "bob:165536:65536\n"
				   "1000:300000:10\n"
				   "alice:bad:1\n"
				   "alice:400000\n"
				   "alice:500000:0\n"
				   "\n"
				   "alicex:600000:5\n"
				   "alice:700000:100";
	struct launch_idrange *r = NULL;
	size_t n = 0;

	/* by name and by uid, in file order; a bad line, a zero count, a longer name skipped */
	ck_assert_int_eq(launch_subid_parse(text, "alice", 1000, &r, &n), 3);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(r[0].outside, 100000);
	ck_assert_uint_eq(r[0].count, 65536);
	ck_assert_uint_eq(r[1].outside, 300000);
	ck_assert_uint_eq(r[1].count, 10);
	ck_assert_uint_eq(r[2].outside, 700000);
	ck_assert_uint_eq(r[2].count, 100);
	free(r);
	ck_assert_int_eq(launch_subid_parse(text, "carol", 1001, &r, &n), 2);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(launch_subid_parse("x:4294967295:2\n", "x", 1, &r, &n), 1);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_getsubids_parse)
{
	struct launch_idrange *r = NULL;
	size_t n = 0;

	ck_assert_int_eq(launch_getsubids_parse("0: alice 100000 65536\n1: alice 300000 10\n"
						"bad line\n2: alice 5 0\n\n",
						&r, &n),
			 2);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].outside, 100000);
	ck_assert_uint_eq(r[0].count, 65536);
	ck_assert_uint_eq(r[1].outside, 300000);
	ck_assert_uint_eq(r[1].count, 10);
	free(r);
	ck_assert_int_eq(launch_getsubids_parse("", &r, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* The caller's map from files of a test's own (STRATA_SUBID_DIR): itself, then its ranges. */
START_TEST(test_idmap_caller)
{
	char *dir = unit_scratch();
	cleanup_free char *u = path_join(dir, "subuid");
	cleanup_free char *g = path_join(dir, "subgid");
	cleanup_free char *ut = xasprintf("%u:200000:65536\n%u:400000:7\n", (unsigned)getuid(),
					  (unsigned)getuid());
	cleanup_free char *text = NULL;
	struct launch_idmap m;

	setenv("STRATA_SUBID_DIR", dir, 1);
	ck_assert_int_eq(file_write_atomic_at(AT_FDCWD, u, ut, strlen(ut), 0644, NULL), 0);
	/* no gid ranges: only the user */
	launch_idmap_caller(&m);
	ck_assert_uint_eq(m.n_uid, 1);
	ck_assert_uint_eq(m.n_gid, 1);
	ck_assert_uint_eq(m.uid[0].outside, getuid());
	launch_idmap_release(&m);
	ck_assert_int_eq(file_write_atomic_at(AT_FDCWD, g, ut, strlen(ut), 0644, NULL), 0);
	launch_idmap_caller(&m);
	ck_assert_uint_eq(m.n_uid, 3);
	text = launch_idmap_text(m.uid, m.n_uid);
	{
		cleanup_free char *want = xasprintf("0:%u:1,1:200000:65536,65537:400000:7",
						    (unsigned)getuid());

		ck_assert_str_eq(text, want);
	}
	ck_assert_uint_eq(m.n_gid, 3);
	ck_assert_uint_eq(m.gid[0].outside, getgid());
	launch_idmap_release(&m);
	unsetenv("STRATA_SUBID_DIR");
	unit_scratch_cleanup(dir);
}
END_TEST

/* Check forks each test: entering a user namespace here leaves the runner alone. */
START_TEST(test_userns_enter)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *um = NULL;
	cleanup_free char *sg = NULL;
	unsigned self = (unsigned)geteuid(), a, b, c;

	ck_assert(sys_userns_is_initial() || !sys_is_host_root());
	ck_assert_ok(launch_userns_enter(NULL, &err), err);
	ck_assert_int_eq(geteuid(), 0);
	ck_assert(!sys_userns_is_initial());
	ck_assert(!sys_is_host_root());
	ck_assert_int_eq(file_read_at(AT_FDCWD, "/proc/self/uid_map", 256, &um, NULL, NULL), 0);
	ck_assert_int_eq(sscanf(um, "%u %u %u", &a, &b, &c), 3);
	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, self);
	ck_assert_uint_eq(c, 1);
	ck_assert_int_eq(file_read_at(AT_FDCWD, "/proc/self/setgroups", 64, &sg, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(sg, "deny"));
	/* one id mapped: no other owner may be given */
	ck_assert(!sys_may_chown());
}
END_TEST

START_TEST(test_signal_names)
{
	ck_assert_int_eq(launch_signal_parse("TERM"), SIGTERM);
	ck_assert_int_eq(launch_signal_parse("SIGKILL"), SIGKILL);
	ck_assert_int_eq(launch_signal_parse("sigusr1"), SIGUSR1);
	ck_assert_int_eq(launch_signal_parse("9"), 9);
	ck_assert_int_eq(launch_signal_parse("NOPE"), -1);
	ck_assert_int_eq(launch_signal_parse("0"), -1);
	ck_assert_int_eq(launch_signal_parse(""), -1);
}
END_TEST

START_TEST(test_detach_keys)
{
	static const struct {
		const char *spec;
		int n;		  /* -1: refused */
		const char *keys; /* the bytes */
	} cases[] = {
		{ "ctrl-p,ctrl-q", 2, "\x10\x11" },
		{ "ctrl-a,d", 2, "\x01" "d" },
		{ "x", 1, "x" },
		{ "ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", 5, "\x1b\x1c\x1d\x1e\x1f" },
		{ "ctrl-@", 1, "" },
		{ "", 0, "" },
		{ "ctrl-1", -1, NULL },
		{ "ctrl-", -1, NULL },
		{ "abc", -1, NULL },
		{ ",", -1, NULL },
		{ "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", -1, NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_error struct strata_error *err = NULL;
		char keys[LAUNCH_DETACH_KEYS_MAX];
		size_t n = 99;
		int r = launch_detach_keys_parse(cases[i].spec, keys, &n, &err);

		if (cases[i].n < 0) {
			ck_assert_msg(r == -1, "'%s' accepted", cases[i].spec);
			ck_assert_int_eq(strata_error_code(err), EINVAL);
			ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "detach keys"));
			continue;
		}
		ck_assert_ok(r, err);
		ck_assert_int_eq(n, cases[i].n);
		ck_assert_msg(!memcmp(keys, cases[i].keys, n), "'%s': wrong bytes", cases[i].spec);
	}
}
END_TEST

static json_t *record(const char *config, const char *command, const char *run)
{
	json_t *rec = json_pack("{s:s}", "Id", "0123456789abcdef0123");

	json_object_set_new(rec, "Config", json_loads(config, 0, NULL));
	json_object_set_new(rec, "Command", json_loads(command, 0, NULL));
	json_object_set_new(rec, "RunConfig", json_loads(run, 0, NULL));
	return rec;
}

static char *joined(char **v)
{
	struct sbuf b = SBUF_INIT;

	for (size_t i = 0; v && v[i]; i++)
		sbuf_addf(&b, "%s%s", i ? " " : "", v[i]);
	return sbuf_detach(&b, NULL);
}

START_TEST(test_spec_rules)
{
	static const struct {
		const char *config, *command, *run, *argv;
	} cases[] = {
		{ "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]}", "[]", "{}", "/ep a" },
		{ "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]}", "[\"b\",\"c\"]", "{}", "/ep b c" },
		{ "{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\"]}", "[]", "{\"Entrypoint\":[\"/x\"]}",
		  "/x" },
		{ "{\"Cmd\":[\"sh\"]}", "[\"ls\",\"-l\"]", "{}", "ls -l" },
		{ "{\"Entrypoint\":[\"/ep\"]}", "[]", "{\"Entrypoint\":[]}", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_error struct strata_error *err = NULL;
		cleanup_json json_t *rec = record(cases[i].config, cases[i].command, cases[i].run);
		struct launch_spec spec;
		struct launch_limits lim;
		int r = launch_spec_from_record(rec, &spec, &lim, &err);

		if (!cases[i].argv) {
			ck_assert_int_eq(r, -1);
			ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "no command"));
			continue;
		}
		ck_assert_ok(r, err);
		{
			cleanup_free char *got = joined(spec.argv);

			ck_assert_str_eq(got, cases[i].argv);
		}
		launch_spec_free(&spec);
	}
	{
		cleanup_error struct strata_error *err = NULL;
		cleanup_json json_t *rec = record(
			"{\"Cmd\":[\"sh\"],\"Env\":[\"A=1\",\"PATH=/bin\"],\"WorkingDir\":\"/srv\","
			"\"User\":\"nobody\"}",
			"[]",
			"{\"Env\":[\"A=2\",\"B=3\"],\"User\":\"1000:1000\",\"Memory\":33554432,"
			"\"PidsLimit\":20,\"Network\":\"host\",\"Mounts\":[{\"Type\":\"tmpfs\","
			"\"Destination\":\"/t\"}]}");
		struct launch_spec spec;
		struct launch_limits lim;
		cleanup_free char *env = NULL;

		ck_assert_ok(launch_spec_from_record(rec, &spec, &lim, &err), err);
		env = joined(spec.env);
		ck_assert_str_eq(env, "A=2 PATH=/bin B=3");
		ck_assert_str_eq(spec.cwd, "/srv");
		ck_assert_str_eq(spec.user, "1000:1000");
		ck_assert_str_eq(spec.hostname, "0123456789ab");
		ck_assert(spec.host_network);
		ck_assert_int_eq(spec.n_mounts, 1);
		ck_assert(spec.mounts[0].tmpfs);
		ck_assert_int_eq(lim.memory, 32 << 20);
		ck_assert_int_eq(lim.pids, 20);
		launch_spec_free(&spec);
	}
}
END_TEST

/* Every option survives its trip through the record; records of before load unchanged. */
START_TEST(test_run_config_round_trip)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *rec = json_object();
	cleanup_json json_t *old = record("{}", "[]",
					  "{\"Entrypoint\":[],\"Env\":[\"A=1\"],\"Tty\":true,"
					  "\"Seccomp\":false,\"CpusetCpus\":\"0\",\"MemorySwap\":-1,"
					  "\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/srv\","
					  "\"Destination\":\"/s\",\"ReadOnly\":true}]}");
	struct launch_run_config rc = { 0 }, back;

	rc.has_entrypoint = true;
	strv_append(&rc.entrypoint, "/ep");
	strv_append(&rc.env, "K=V");
	rc.workdir = xstrdup("/w");
	rc.user = xstrdup("1:2");
	rc.hostname = xstrdup("h");
	rc.stop_signal = xstrdup("USR1");
	rc.host_network = rc.readonly_rootfs = rc.no_seccomp = rc.no_new_privs = true;
	rc.init = rc.auto_remove = rc.interactive = rc.tty = true;
	strv_append(&rc.cap_add, "SYS_ADMIN");
	strv_append(&rc.cap_drop, "NET_RAW");
	launch_run_config_add_mount(&rc, "/srv", "/s", true);
	launch_run_config_add_mount(&rc, NULL, "/t", false);
	rc.limits = (struct launch_limits){ .memory = 64 << 20, .memory_swap = -1, .cpu_quota = 5,
					    .cpu_period = 10, .cpu_shares = 7, .pids = 9,
					    .cpuset = xstrdup("0-1") };
	ck_assert_ok(launch_run_config_put(rec, &rc, &err), err);
	launch_run_config_get(rec, &back);
	ck_assert(back.has_entrypoint);
	ck_assert_str_eq(back.entrypoint[0], "/ep");
	ck_assert_str_eq(back.env[0], "K=V");
	ck_assert_str_eq(back.workdir, "/w");
	ck_assert_str_eq(back.user, "1:2");
	ck_assert_str_eq(back.hostname, "h");
	ck_assert_str_eq(back.stop_signal, "USR1");
	ck_assert(back.host_network && back.readonly_rootfs && back.no_seccomp &&
		  back.no_new_privs && back.init && back.auto_remove && back.interactive && back.tty);
	ck_assert_str_eq(back.cap_add[0], "SYS_ADMIN");
	ck_assert_str_eq(back.cap_drop[0], "NET_RAW");
	ck_assert_int_eq(back.n_mounts, 2);
	ck_assert_str_eq(back.mounts[0].source, "/srv");
	ck_assert(back.mounts[0].readonly && !back.mounts[0].tmpfs);
	ck_assert(back.mounts[1].tmpfs && !back.mounts[1].source);
	ck_assert_str_eq(back.mounts[1].destination, "/t");
	ck_assert(!memcmp(&back.limits, &rc.limits, offsetof(struct launch_limits, cpuset)));
	ck_assert_str_eq(back.limits.cpuset, "0-1");
	launch_run_config_release(&back);
	launch_run_config_release(&rc);

	/* a record written before the typed config */
	launch_run_config_get(old, &back);
	ck_assert(back.has_entrypoint && !back.entrypoint[0]);
	ck_assert(back.tty && back.no_seccomp && !back.init);
	ck_assert_int_eq(back.limits.memory_swap, -1);
	ck_assert_str_eq(back.limits.cpuset, "0");
	ck_assert_int_eq(back.n_mounts, 1);
	ck_assert(back.mounts[0].readonly);
	launch_run_config_release(&back);
	/* no RunConfig at all: everything unset */
	json_object_del(old, "RunConfig");
	launch_run_config_get(old, &back);
	ck_assert(!back.has_entrypoint && !back.env && !back.tty && !back.limits.memory);
	launch_run_config_release(&back);
}
END_TEST

/* volume create -o: podman's local driver options, checked; o=uid=,gid= kept as UID, GID. */
START_TEST(test_volume_options)
{
	static const struct {
		const char *opts[4];
		const char *want; /* the Options as JSON, or the error's text */
	} rows[] = {
		{ { "type=tmpfs", "device=tmpfs", "o=size=4m,uid=5", NULL },
		  "{\"UID\": \"5\", \"device\": \"tmpfs\", \"o\": \"size=4m,uid=5\", \"type\": \"tmpfs\"}" },
		{ { "o=uid=1,gid=2", NULL }, "{\"GID\": \"2\", \"UID\": \"1\", \"o\": \"uid=1,gid=2\"}" },
		{ { "type=none", "device=/", "o=bind,ro", NULL },
		  "{\"device\": \"/\", \"o\": \"bind,ro\", \"type\": \"none\"}" },
		{ { "nocopy", NULL }, "{\"nocopy\": \"\"}" },
		{ { "foo=1", NULL }, "unknown volume option 'foo'" },
		{ { "o=noexec", NULL }, "needs type=" },
		{ { "o=gid=-1", NULL }, "GID wants a number" },
		{ { "type=tmpfs", "o=remount", NULL }, "'remount' is not supported" },
		{ { "type=ext4", "device=/", NULL }, "is a block device" },
		{ { "type=ext4", NULL }, "needs device=" },
		{ { "type=bind", "device=/etc/passwd", NULL }, "is a directory" },
		{ { "type", NULL }, "wants type=VALUE" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct strata_error *err = NULL;
		json_t *o = NULL;

		if (launch_volume_options_parse((char *const *)rows[i].opts, &o, &err) == 0) {
			cleanup_free char *text = json_dumps(o, 0);

			ck_assert_str_eq(text, rows[i].want);
			ck_assert(launch_volume_needs_mount(o) == (json_object_get(o, "type") != NULL));
			json_decref(o);
		} else {
			ck_assert_msg(strstr(strata_error_msg(err), rows[i].want), "row %zu: %s", i,
				      strata_error_msg(err));
			strata_error_free(err);
		}
	}
}
END_TEST

/* Volume mounts and tmpfs settings survive the record; the record lists the volumes. */
START_TEST(test_run_config_volumes_round_trip)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_json json_t *rec = json_object();
	struct launch_run_config rc = { 0 }, back;
	struct launch_mount *m;

	m = launch_run_config_add_volume(&rc, "data", "/d", true);
	free(m->source);
	m->source = xstrdup("/root/volumes/data/_data");
	m->nocopy = m->chown = true;
	m = launch_run_config_add_volume(&rc, "abc", "/a", false);
	m->source = xstrdup("/root/volumes/abc/_data");
	m->anonymous = true;
	m = launch_run_config_add_mount(&rc, "/srv", "/p", false);
	ck_assert_int_eq(launch_propagation_parse("rslave", &m->propagation), 0);
	ck_assert_int_eq(launch_propagation_parse("sideways", &m->propagation), -1);
	m = launch_run_config_add_mount(&rc, NULL, "/t", false);
	m->tmpfs_size = 1 << 20;
	m->tmpfs_mode = 0700;
	ck_assert_ok(launch_run_config_put(rec, &rc, &err), err);
	ck_assert_int_eq(json_array_size(json_object_get(rec, "Volumes")), 2);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(rec, "Volumes"), 1)),
			 "abc");
	launch_run_config_get(rec, &back);
	ck_assert_int_eq(back.n_mounts, 4);
	ck_assert_str_eq(back.mounts[0].volume, "data");
	ck_assert(back.mounts[0].readonly && back.mounts[0].nocopy && back.mounts[0].chown &&
		  !back.mounts[0].anonymous);
	ck_assert(back.mounts[1].anonymous && !back.mounts[1].nocopy);
	ck_assert_str_eq(back.mounts[1].source, "/root/volumes/abc/_data");
	ck_assert_str_eq(launch_propagation_name(back.mounts[2].propagation), "rslave");
	ck_assert_str_eq(launch_propagation_name(back.mounts[0].propagation), "rprivate");
	ck_assert(back.mounts[3].tmpfs && !back.mounts[3].volume);
	ck_assert_uint_eq(back.mounts[3].tmpfs_size, 1 << 20);
	ck_assert_uint_eq(back.mounts[3].tmpfs_mode, 0700);
	{
		cleanup_json json_t *ins = launch_mounts_inspect(rec);

		ck_assert_str_eq(jv_str(json_array_get(ins, 0), "Type"), "volume");
		ck_assert(json_is_false(json_object_get(json_array_get(ins, 0), "RW")));
		ck_assert_str_eq(jv_str(json_array_get(ins, 2), "Propagation"), "rslave");
		ck_assert_str_eq(jv_str(json_array_get(ins, 3), "Source"), "tmpfs");
	}
	launch_run_config_release(&back);
	launch_run_config_release(&rc);
}
END_TEST

START_TEST(test_run_config_check)
{
	static const struct {
		struct launch_limits limits;
		const char *cap, *signal, *mount, *want;
	} cases[] = {
		{ { .memory = 5 << 20 }, NULL, NULL, NULL, "below the 6 MiB minimum" },
		{ { .memory = 6 << 20 }, NULL, NULL, NULL, NULL },
		{ { .pids = -3 }, NULL, NULL, NULL, "negative" },
		{ { .cpuset = "0-1;x" }, NULL, NULL, NULL, "invalid CPU list" },
		{ { 0 }, "NOPE", NULL, NULL, "unknown capability 'NOPE'" },
		{ { 0 }, "sys_admin", "TERM", "/x", NULL },
		{ { 0 }, NULL, "NOSIG", NULL, "unknown signal" },
		{ { 0 }, NULL, NULL, "rel", "not absolute" },
		{ { 0 }, NULL, NULL, "/", "cannot mount over '/'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_error struct strata_error *err = NULL;
		cleanup_json json_t *rec = json_object();
		struct launch_run_config rc = { 0 };
		int r;

		rc.limits = cases[i].limits;
		rc.limits.cpuset = cases[i].limits.cpuset ? xstrdup(cases[i].limits.cpuset) : NULL;
		if (cases[i].cap)
			strv_append(&rc.cap_add, cases[i].cap);
		if (cases[i].signal)
			rc.stop_signal = xstrdup(cases[i].signal);
		if (cases[i].mount)
			launch_run_config_add_mount(&rc, NULL, cases[i].mount, false);
		r = launch_run_config_put(rec, &rc, &err);
		launch_run_config_release(&rc);
		if (!cases[i].want) {
			ck_assert_ok(r, err);
			continue;
		}
		ck_assert_int_eq(r, -1);
		ck_assert_int_eq(strata_error_code(err), EINVAL);
		ck_assert_msg(strstr(strata_error_msg(err), cases[i].want), "case %zu: %s", i,
			      strata_error_msg(err));
		ck_assert_ptr_null(json_object_get(rec, "RunConfig"));
	}
}
END_TEST

#define CAP(c) (1ULL << CAP_##c)

static bool denies(uint64_t caps, const char *name)
{
	cleanup_strv char **v = launch_seccomp_denied(caps);

	return strv_contains(v, name);
}

/* The filter opens what a kept capability makes useful, and nothing else. */
START_TEST(test_seccomp_by_caps)
{
	cleanup_error struct strata_error *err = NULL;
	uint64_t def, all = ~0ULL;

	ck_assert_ok(launch_caps_mask(NULL, NULL, &def, &err), err);
	ck_assert(denies(def, "mount") && denies(def, "umount2") && denies(def, "unshare") &&
		  denies(def, "setns") && denies(def, "ptrace") && denies(def, "process_vm_readv") &&
		  denies(def, "kcmp") && denies(def, "init_module") && denies(def, "reboot") &&
		  denies(def, "settimeofday") && denies(def, "acct") && denies(def, "bpf") &&
		  denies(def, "perf_event_open") && denies(def, "syslog") && denies(def, "iopl"));
	ck_assert(!denies(def | CAP(SYS_ADMIN), "mount"));
	ck_assert(!denies(def | CAP(SYS_ADMIN), "setns"));
	ck_assert(denies(def | CAP(SYS_ADMIN), "ptrace"));
	ck_assert(!denies(def | CAP(SYS_PTRACE), "ptrace"));
	ck_assert(!denies(def | CAP(SYS_PTRACE), "process_vm_writev"));
	ck_assert(denies(def | CAP(SYS_PTRACE), "mount"));
	ck_assert(!denies(def | CAP(SYS_MODULE), "finit_module"));
	ck_assert(!denies(def | CAP(SYS_BOOT), "reboot"));
	ck_assert(!denies(def | CAP(SYS_TIME), "clock_settime"));
	ck_assert(!denies(def | CAP(SYS_NICE), "mbind"));
	ck_assert(!denies(def | CAP(SYS_PACCT), "acct"));
	ck_assert(!denies(def | CAP(SYSLOG), "syslog"));
	ck_assert(!denies(def | CAP(SYS_RAWIO), "ioperm"));
	ck_assert(!denies(def | CAP(BPF), "bpf"));
	ck_assert(!denies(def | CAP(PERFMON), "perf_event_open"));
	ck_assert(!denies(def | CAP(DAC_READ_SEARCH), "open_by_handle_at"));
	/* what no capability opens */
	ck_assert(denies(all, "kexec_load") && denies(all, "keyctl") && denies(all, "userfaultfd"));
}
END_TEST

START_TEST(test_default_caps)
{
	size_t n = 0;

	while (launch_default_caps[n])
		n++;
	ck_assert_int_eq(n, 14); /* Docker's and podman's default set */
}
END_TEST

/*
 * On cgroup v2 a container starts in its cgroup: clone3 CLONE_INTO_CGROUP
 * with the fd launch_cgroup_v2_fd() gives. On a cgroup2 mount of our own
 * (in a private mount namespace), so it runs on v1, hybrid and v2 hosts.
 */
START_TEST(test_clone_into_cgroup_v2)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *mnt = xasprintf("%s/cg2", scratch);
	cleanup_free char *name = xasprintf("unit-%d", (int)getpid());
	struct launch_limits l = { .memory_swap = -1 };
	struct launch_cgroup *cg = NULL;
	char got[512] = "";
	int fd, p[2], status;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	mkdirs(mnt);
	ck_assert_msg(mount("none", mnt, "cgroup2", 0, NULL) == 0, "mount cgroup2: %s",
		      strerror(errno));
	ck_assert_int_eq(launch_cgroup_version(mnt), 2);
	ck_assert_ok(launch_cgroup_create(mnt, 2, "/proc/self/cgroup", name, &l, &cg, &err), err);
	fd = launch_cgroup_v2_fd(cg);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pipe(p), 0);
	pid = sys_clone(0, fd);
	if (pid == 0) {
		/* the child: its own cgroup, as the kernel says */
		cleanup_free char *buf = NULL;
		size_t len = 0;
		const char *line;

		if (file_read_at(AT_FDCWD, "/proc/self/cgroup", 4096, &buf, &len, NULL) < 0 ||
		    !(line = strstr(buf, "0::")))
			_exit(1);
		_exit(write(p[1], line, strcspn(line, "\n")) > 0 ? 0 : 1);
	}
	if (pid < 0 && errno == ENOSYS && getenv("STRATA_UNDER_VALGRIND")) {
		/* valgrind 3.19 does not know clone3: the fallback is what runs there */
		close(fd);
		launch_cgroup_destroy(cg);
		umount(mnt);
		return;
	}
	ck_assert_msg(pid > 0, "clone3 into a cgroup: %s", strerror(errno));
	close(p[1]);
	close(fd);
	n = read(p[0], got, sizeof(got) - 1);
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(strstr(got, "/strata/") && strstr(got, name), "the child is in '%s'", got);
	launch_cgroup_destroy(cg);
	{
		/*
		 * and nothing stays: the container's dir, then strata's if empty
		 * (other runs on this machine may have theirs in it)
		 */
		cleanup_free char *self = NULL, *top = NULL, *own = NULL;
		size_t len = 0;
		char *line, *nl;

		ck_assert_ok(file_read_at(AT_FDCWD, "/proc/self/cgroup", 4096, &self, &len, &err),
			     err);
		line = strstr(self, "0::");
		ck_assert_ptr_nonnull(line);
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		top = xasprintf("%s%s/strata", mnt, strcmp(line + 3, "/") ? line + 3 : "");
		own = xasprintf("%s/%s", top, name);
		ck_assert_int_eq(access(own, F_OK), -1);
		rmdir(top);
	}
	umount(mnt);
}
END_TEST

/*
 * In the container's cgroup: 0 if /dev/null and @full (1:7) open, @kvm
 * (10:232) and @blk (7:0) can be made but not opened (EPERM), else 1.
 */
static int device_probe(const char *full, const char *kvm, const char *blk)
{
	int a = open("/dev/null", O_RDWR), b = open(full, O_RDONLY);
	int c = mknod(kvm, S_IFCHR | 0600, makedev(10, 232));
	int d = open(kvm, O_RDWR), de = errno;
	int e = mknod(blk, S_IFBLK | 0600, makedev(7, 0));
	int f = open(blk, O_RDONLY), fe = errno;

	bool ok =
	    a >= 0 && b >= 0 && c == 0 && d < 0 && de == EPERM && e == 0 && f < 0 && fe == EPERM;

	return ok ? 0 : 1;
}

/*
 * The v2 device program for real: attached to a cgroup of a cgroup2 mount
 * of our own (device programs need no controller), a process started in
 * that cgroup opens the default devices, makes any node, and opens no
 * other.
 */
START_TEST(test_device_program_attached)
{
	cleanup_error struct strata_error *err = NULL;
	/* on the stack: the child _exits without freeing, and valgrind checks it for leaks */
	char mnt[PATH_MAX], name[64], kvm[PATH_MAX], blk[PATH_MAX], full[PATH_MAX];
	struct launch_cgroup *cg = NULL;
	int fd, status, oe;
	pid_t pid;

	snprintf(mnt, sizeof(mnt), "%s/cg2", scratch);
	snprintf(name, sizeof(name), "unit-dev-%d", (int)getpid());
	snprintf(kvm, sizeof(kvm), "%s/kvm", scratch);
	snprintf(blk, sizeof(blk), "%s/blk", scratch);
	snprintf(full, sizeof(full), "%s/full", scratch);
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	mkdirs(mnt);
	ck_assert_msg(mount("none", mnt, "cgroup2", 0, NULL) == 0, "mount cgroup2: %s",
		      strerror(errno));
	ck_assert_ok(launch_cgroup_create(mnt, 2, "/proc/self/cgroup", name, NULL, &cg, &err), err);
	fd = launch_cgroup_v2_fd(cg);
	ck_assert_int_ge(fd, 0);
	/* before: this process may open the node the container may not */
	ck_assert_int_eq(mknod(full, S_IFCHR | 0600, makedev(1, 7)), 0);
	pid = sys_clone(0, fd);
	if (pid < 0 && errno == ENOSYS && getenv("STRATA_UNDER_VALGRIND")) {
		/* valgrind does not know clone3: the child moves itself in, as the fallback does */
		pid = fork();
		if (pid == 0) {
			int procs = openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

			if (procs < 0 || write(procs, "0", 1) != 1)
				_exit(2);
			close(procs);
		}
	}
	if (pid == 0)
		_exit(device_probe(full, kvm, blk));
	close(fd);
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	/* outside the cgroup the same node opens */
	fd = open(kvm, O_RDWR);
	oe = errno;
	if (fd >= 0)
		close(fd);
	/* the cgroup goes before any assertion can end the test */
	launch_cgroup_destroy(cg);
	umount(mnt);
	ck_assert_int_gt(pid, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "the device program let a denied open through, or denied an allowed one (status 0x%x)", status);
	ck_assert_msg(fd >= 0 || oe != EPERM, "open outside: %s", strerror(oe));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("launch");
	TCase *tc = tcase_create("cgroups");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cgroup_v2_fake_tree);
	tcase_add_test(tc, test_cgroup_v1_fake_tree);
	tcase_add_test(tc, test_cgroup_v2_missing_controller);
	tcase_add_test(tc, test_cgroup_dead_build_signals_no_group);
	tcase_add_test(tc, test_cgroup_limits_without_a_hierarchy);
	tcase_add_test(tc, test_cgroup_rootless);
	tcase_add_test(tc, test_device_program);
	tcase_add_test(tc, test_device_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("cgroup2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_clone_into_cgroup_v2);
	tcase_add_test(tc, test_device_program_attached);
	unit_need_root(s, tc, "mounts cgroup2 and makes a cgroup in it");

	tc = tcase_create("cgroup-userns");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cgroup_rootless_userns);
	unit_need_root(s, tc, "gives a fake cgroup tree to an id no namespace maps");

	tc = tcase_create("userns");
	tcase_add_test(tc, test_idmap);
	tcase_add_test(tc, test_subid_parse);
	tcase_add_test(tc, test_getsubids_parse);
	tcase_add_test(tc, test_idmap_caller);
	tcase_add_test(tc, test_userns_enter);
	suite_add_tcase(s, tc);

	tc = tcase_create("spec");
	tcase_add_test(tc, test_signal_names);
	tcase_add_test(tc, test_detach_keys);
	tcase_add_test(tc, test_spec_rules);
	tcase_add_test(tc, test_default_caps);
	tcase_add_test(tc, test_seccomp_by_caps);
	tcase_add_test(tc, test_run_config_round_trip);
	tcase_add_test(tc, test_run_config_volumes_round_trip);
	tcase_add_test(tc, test_volume_options);
	tcase_add_test(tc, test_run_config_check);
	suite_add_tcase(s, tc);
	return s;
}
