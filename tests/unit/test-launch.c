/*
 * launch: the cgroup writers (v2 and v1, against fake trees in a scratch
 * directory), signal names, and the command, env and user rules of a
 * container spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	const char *ctrls[] = { "memory", "cpu", "pids", "freezer" };
	struct launch_limits l = { .memory = 32 << 20, .cpu_quota = 25000, .cpu_shares = 512,
				   .pids = 10 };
	struct launch_cgroup *cg = NULL;
	char *v;

	for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
		cleanup_free char *d = xasprintf("%s/%s/box", mnt, ctrls[i]);

		mkdirs(d);
	}
	unit_write_file(self, "4:memory:/box\n3:cpu,cpuacct:/box\n2:pids:/box\n1:freezer:/box\n0::/\n",
			0644);
	ck_assert_ok(launch_cgroup_create(mnt, 1, self, "c1", &l, &cg, &err), err);
	{
		cleanup_free char *mem = xasprintf("%s/memory/box/strata/c1", mnt);
		cleanup_free char *cpu = xasprintf("%s/cpu/box/strata/c1", mnt);
		cleanup_free char *pids = xasprintf("%s/pids/box/strata/c1", mnt);
		const char *dir;

		dir = mem;
		EXPECT("memory.limit_in_bytes", "33554432");
		dir = cpu;
		EXPECT("cpu.cfs_quota_us", "25000");
		EXPECT("cpu.cfs_period_us", "100000");
		EXPECT("cpu.shares", "512");
		dir = pids;
		EXPECT("pids.max", "10");
		(void)dir;
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

/* Check forks each test: entering a user namespace here leaves the runner alone. */
START_TEST(test_userns_enter)
{
	cleanup_error struct strata_error *err = NULL;
	cleanup_free char *um = NULL;
	cleanup_free char *sg = NULL;
	unsigned self = (unsigned)geteuid(), a, b, c;

	ck_assert(sys_userns_is_initial() || !sys_is_host_root());
	ck_assert_ok(launch_userns_enter(&err), err);
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

START_TEST(test_default_caps)
{
	size_t n = 0;

	while (launch_default_caps[n])
		n++;
	ck_assert_int_eq(n, 14); /* Docker's and podman's default set */
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("launch");
	TCase *tc = tcase_create("cgroups");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cgroup_v2_fake_tree);
	tcase_add_test(tc, test_cgroup_v1_fake_tree);
	tcase_add_test(tc, test_cgroup_limits_without_a_hierarchy);
	tcase_add_test(tc, test_cgroup_rootless);
	suite_add_tcase(s, tc);

	tc = tcase_create("userns");
	tcase_add_test(tc, test_idmap);
	tcase_add_test(tc, test_userns_enter);
	suite_add_tcase(s, tc);

	tc = tcase_create("spec");
	tcase_add_test(tc, test_signal_names);
	tcase_add_test(tc, test_spec_rules);
	tcase_add_test(tc, test_default_caps);
	suite_add_tcase(s, tc);
	return s;
}
