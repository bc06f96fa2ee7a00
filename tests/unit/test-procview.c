/*
 * procview: the view's files computed from a fake host /proc and fake
 * cgroup trees (v1 and v2), and the FUSE server on a real mount (root).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "procview/procview-int.h"
#include "unit.h"

static char *scratch;

static const char host_meminfo[] = "MemTotal:       16000000 kB\n"
				   "MemFree:        10000000 kB\n"
				   "MemAvailable:   12000000 kB\n"
				   "Buffers:           10000 kB\n"
				   "Cached:          2000000 kB\n"
				   "SwapCached:            0 kB\n"
				   "Active:          1000000 kB\n"
				   "Inactive:        1000000 kB\n"
				   "Shmem:             20000 kB\n"
				   "SwapTotal:       1000000 kB\n"
				   "SwapFree:         900000 kB\n"
				   "HugePages_Total:       0\n";

static const char host_stat[] = "cpu  400 0 400 4000 0 0 0 0 0 0\n"
				"cpu0 100 0 100 1000 0 0 0 0 0 0\n"
				"cpu1 100 0 100 1000 0 0 0 0 0 0\n"
				"cpu2 100 0 100 1000 0 0 0 0 0 0\n"
				"cpu3 100 0 100 1000 0 0 0 0 0 0\n"
				"intr 5 0\n"
				"ctxt 77\n";

static void put(const char *rel, const char *content)
{
	cleanup_free char *p = path_join(scratch, rel);
	cleanup_free char *dir = xstrdup(rel);
	cleanup_close int root = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct strata_error *err = NULL;
	char *slash = strrchr(dir, '/');
	int d;

	if (slash) {
		*slash = '\0';
		d = path_mkdirs_in(root, dir, 0755, &err);
		ck_assert_ok(d, err);
		close(d);
	}
	unit_write_file(p, content, 0644);
}

/* A host /proc with 4 CPUs, 16 GB and 1 GB of swap. */
static void make_host(void)
{
	struct sbuf ci = SBUF_INIT;

	for (int i = 0; i < 4; i++)
		sbuf_addf(&ci, "processor\t: %d\nmodel name\t: Fake CPU\ncore id\t\t: %d\n\n", i,
			  i);
	put("proc/cpuinfo", ci.buf);
	sbuf_release(&ci);
	put("proc/meminfo", host_meminfo);
	put("proc/stat", host_stat);
	put("proc/uptime", "5000.00 9000.00\n");
	put("proc/loadavg", "3.00 2.00 1.00 5/500 999\n");
	put("proc/swaps",
	    "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 1000000 100000 -2\n");
	put("proc/diskstats", "   8       0 sda 10 0 20 0 30 0 40 0 0 0 0 0 0 0 0 0 0\n"
			      "   8      16 sdb 1 0 2 0 3 0 4 0 0 0 0 0 0 0 0 0 0\n");
	put("online", "0-3\n");
}

static struct procview_source *source(void)
{
	cleanup_free char *proc = path_join(scratch, "proc");
	cleanup_free char *online = path_join(scratch, "online");

	return procview_source_new(proc, online);
}

/* A v1 tree: 64 MiB limit, 40 MiB used, CFS quota @quota (-1: none), cpuset @cpus. */
static struct procview_source *make_v1(const char *quota, const char *cpus)
{
	struct procview_source *src = source();
	const char *ctl[] = {"memory", "cpu", "cpuacct", "cpuset", "blkio"};

	put("v1/memory/memory.limit_in_bytes", "67108864\n");
	put("v1/memory/memory.usage_in_bytes", "41943040\n");
	put("v1/memory/memory.memsw.limit_in_bytes", "100663296\n");
	put("v1/memory/memory.memsw.usage_in_bytes", "44040192\n");
	put("v1/memory/memory.stat", "cache 1\nrss 2\n"
				     "hierarchical_memory_limit 9223372036854771712\n"
				     "total_cache 8388608\ntotal_shmem 1048576\n"
				     "total_active_anon 4194304\ntotal_inactive_anon 2097152\n"
				     "total_active_file 3145728\ntotal_inactive_file 1048576\n");
	put("v1/cpu/cpu.cfs_quota_us", quota);
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	put("v1/cpu/tasks", "");
	/* 1 s user and 0.5 s system on CPU 1, at 100 Hz: 100 and 50 ticks */
	put("v1/cpuacct/cpuacct.usage_all", "cpu user system\n0 0 0\n1 1000000000 500000000\n"
					    "2 0 0\n3 0 0\n");
	put("v1/cpuacct/cpuacct.usage", "1500000000\n");
	put("v1/cpuset/cpuset.effective_cpus", cpus);
	put("v1/blkio/blkio.throttle.io_serviced_recursive", "8:0 Read 5\n8:0 Write 7\nTotal 12\n");
	put("v1/blkio/blkio.throttle.io_service_bytes_recursive",
	    "8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n");
	for (size_t i = 0; i < ARRAY_SIZE(ctl); i++) {
		cleanup_free char *rel = xasprintf("v1/%s", ctl[i]);
		cleanup_free char *d = path_join(scratch, rel);

		procview_source_set_dir(src, ctl[i], d);
	}
	return src;
}

/* A v2 directory a/b: memory.max 1 GiB, the parent's 256 MiB. */
static struct procview_source *make_v2(const char *cpu_max, const char *cpus)
{
	struct procview_source *src = source();
	cleanup_free char *d = path_join(scratch, "v2/a/b");

	put("v2/a/memory.max", "268435456\n");
	put("v2/a/b/memory.max", "1073741824\n");
	put("v2/a/b/memory.current", "104857600\n");
	put("v2/a/b/memory.swap.max", "max\n");
	put("v2/a/b/memory.swap.current", "1048576\n");
	put("v2/a/b/memory.stat", "anon 1\nfile 20971520\nshmem 2097152\n"
				  "active_anon 10485760\ninactive_anon 0\n"
				  "active_file 5242880\ninactive_file 5242880\n"
				  "slab_reclaimable 1048576\nslab_unreclaimable 1048576\n");
	put("v2/a/b/cpu.max", cpu_max);
	/* 3 s user, 1 s system: 300 and 100 ticks */
	put("v2/a/b/cpu.stat", "usage_usec 4000000\nuser_usec 3000000\nsystem_usec 1000000\n");
	put("v2/a/b/cpuset.cpus.effective", cpus);
	put("v2/a/b/cgroup.threads", "");
	put("v2/a/b/io.stat", "8:16 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n");
	procview_source_set_dir(src, "", d);
	return src;
}

static char *render(struct procview_source *src, enum procview_file f)
{
	struct sbuf b = SBUF_INIT;
	struct strata_error *err = NULL;

	ck_assert_ok(procview_render(src, f, &b, &err), err);
	return sbuf_detach(&b, NULL);
}

/* The kB value of @name in meminfo @text. */
static long long kb(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	ck_assert_msg(p, "no %s in:\n%s", name, text);
	return strtoll(p + strlen(name), NULL, 10);
}

static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, len))
			n++;
	return n;
}

static void setup(void)
{
	scratch = unit_scratch();
	make_host();
}

static void teardown(void)
{
	unit_scratch_cleanup(scratch);
	scratch = NULL;
}

START_TEST(test_cpus_parse)
{
	struct procview_cpus s;

	ck_assert_int_eq(procview_cpus_parse("0-3,8,10-11\n", &s), 0);
	ck_assert_uint_eq(procview_cpus_count(&s), 7);
	ck_assert(procview_cpus_has(&s, 8) && !procview_cpus_has(&s, 9));
	ck_assert_int_eq(procview_cpus_parse("3-1", &s), -1);
	ck_assert_int_eq(procview_cpus_parse("x", &s), -1);
	ck_assert_int_eq(procview_cpus_parse("0,", &s), 0);
	ck_assert_int_eq(procview_cpus_parse("5000", &s), -1);
}
END_TEST

START_TEST(test_meminfo_v1)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	cleanup_free char *m = render(src, PROCVIEW_MEMINFO);

	ck_assert_int_eq(kb(m, "MemTotal:"), 65536);
	ck_assert_int_eq(kb(m, "MemFree:"), 65536 - 40960);
	/* free + active and inactive file */
	ck_assert_int_eq(kb(m, "MemAvailable:"), 65536 - 40960 + 4096);
	ck_assert_int_eq(kb(m, "Cached:"), 8192);
	ck_assert_int_eq(kb(m, "Active:"), 4096 + 3072);
	ck_assert_int_eq(kb(m, "Inactive:"), 2048 + 1024);
	ck_assert_int_eq(kb(m, "Shmem:"), 1024);
	ck_assert_int_eq(kb(m, "Buffers:"), 0);
	/* memsw 96 MiB bounded by the host's 1000000 kB; 2 MiB swapped */
	ck_assert_int_eq(kb(m, "SwapTotal:"), 98304);
	ck_assert_int_eq(kb(m, "SwapFree:"), 98304 - 2048);
	/* lines the cgroup does not limit stay the host's */
	ck_assert_ptr_nonnull(strstr(m, "HugePages_Total:       0\n"));
	/* the kernel's layout: name padded to 16 columns, value to 8 */
	ck_assert_ptr_nonnull(strstr(m, "MemTotal:          65536 kB\n"));
	procview_source_free(src);
}
END_TEST

START_TEST(test_meminfo_unlimited_is_host)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	cleanup_free char *m = NULL;

	put("v1/memory/memory.limit_in_bytes", "9223372036854771712\n");
	m = render(src, PROCVIEW_MEMINFO);
	ck_assert_int_eq(kb(m, "MemTotal:"), 16000000);
	ck_assert_int_eq(kb(m, "MemFree:"), 16000000 - 40960);
	procview_source_free(src);
	/* no cgroup at all: the host's file as it is */
	src = source();
	free(m);
	m = render(src, PROCVIEW_MEMINFO);
	ck_assert_str_eq(m, host_meminfo);
	procview_source_free(src);
}
END_TEST

START_TEST(test_meminfo_v2)
{
	struct procview_source *src = make_v2("max 100000\n", "0-3\n");
	cleanup_free char *m = render(src, PROCVIEW_MEMINFO);

	/* the parent's 256 MiB is the lower limit */
	ck_assert_int_eq(kb(m, "MemTotal:"), 262144);
	ck_assert_int_eq(kb(m, "MemFree:"), 262144 - 102400);
	ck_assert_int_eq(kb(m, "MemAvailable:"), 262144 - 102400 + 10240 + 1024);
	ck_assert_int_eq(kb(m, "Cached:"), 20480);
	ck_assert_int_eq(kb(m, "Active:"), 10240 + 5120);
	ck_assert_int_eq(kb(m, "Shmem:"), 2048);
	/* swap.max "max": the host's swap */
	ck_assert_int_eq(kb(m, "SwapTotal:"), 1000000);
	ck_assert_int_eq(kb(m, "SwapFree:"), 1000000 - 1024);
	procview_source_free(src);
}
END_TEST

/* --cpus 1.5: two CPUs everywhere, numbered from 0. */
START_TEST(test_cpus_quota_v1)
{
	struct procview_source *src = make_v1("150000\n", "0-3\n");
	cleanup_free char *ci = render(src, PROCVIEW_CPUINFO);
	cleanup_free char *st = render(src, PROCVIEW_STAT);
	cleanup_free char *on = render(src, PROCVIEW_CPU_ONLINE);

	ck_assert_int_eq(count_lines(ci, "processor"), 2);
	ck_assert_ptr_nonnull(
	    strstr(ci, "processor\t: 1\nmodel name\t: Fake CPU\ncore id\t\t: 1\n"));
	ck_assert_int_eq(count_lines(st, "cpu"), 3);
	ck_assert_int_eq(count_lines(st, "cpu0 "), 1);
	ck_assert_int_eq(count_lines(st, "cpu1 "), 1);
	ck_assert_str_eq(on, "0-1\n");
	/* the host's other lines stay */
	ck_assert_ptr_nonnull(strstr(st, "\nctxt 77\n"));
	procview_source_free(src);
}
END_TEST

START_TEST(test_cpus_quota_v2)
{
	struct procview_source *src = make_v2("150000 100000\n", "0-3\n");
	cleanup_free char *ci = render(src, PROCVIEW_CPUINFO);
	cleanup_free char *on = render(src, PROCVIEW_CPU_ONLINE);
	cleanup_free char *st = NULL;

	ck_assert_int_eq(count_lines(ci, "processor"), 2);
	ck_assert_str_eq(on, "0-1\n");
	procview_source_free(src);
	/* an exact quota: 2 CPUs */
	src = make_v2("200000 100000\n", "0-3\n");
	free(ci);
	ci = render(src, PROCVIEW_CPUINFO);
	ck_assert_int_eq(count_lines(ci, "processor"), 2);
	/* v2 has no per-CPU split: 300 user and 100 system ticks spread over both */
	st = render(src, PROCVIEW_STAT);
	ck_assert_ptr_nonnull(strstr(st, "\ncpu0 150 0 50 "));
	ck_assert_ptr_nonnull(strstr(st, "\ncpu1 150 0 50 "));
	procview_source_free(src);
}
END_TEST

/* --cpuset-cpus 1 --cpus 1.5: the cpuset is the lower bound; its CPU keeps its number in stat. */
START_TEST(test_cpuset_and_quota)
{
	struct procview_source *src = make_v1("150000\n", "1\n");
	cleanup_free char *ci = render(src, PROCVIEW_CPUINFO);
	cleanup_free char *st = render(src, PROCVIEW_STAT);
	cleanup_free char *on = render(src, PROCVIEW_CPU_ONLINE);

	ck_assert_int_eq(count_lines(ci, "processor"), 1);
	ck_assert_ptr_nonnull(
	    strstr(ci, "processor\t: 0\nmodel name\t: Fake CPU\ncore id\t\t: 1\n"));
	ck_assert_int_eq(count_lines(st, "cpu"), 2);
	/* 100 user, 50 system; idle = host idle 1000 + (host busy 200 - 150) */
	ck_assert_ptr_nonnull(strstr(st, "\ncpu1 100 0 50 1050 0 0 0 0 0 0\n"));
	ck_assert(!strncmp(st, "cpu  100 0 50 1050 0 0 0 0 0 0\n", 31));
	ck_assert_str_eq(on, "1\n");
	procview_source_free(src);
}
END_TEST

START_TEST(test_no_limits_all_cpus)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	cleanup_free char *ci = render(src, PROCVIEW_CPUINFO);
	cleanup_free char *on = render(src, PROCVIEW_CPU_ONLINE);

	ck_assert_int_eq(count_lines(ci, "processor"), 4);
	ck_assert_str_eq(on, "0-3\n");
	procview_source_free(src);
	/* no cgroup: the host's online CPUs */
	src = source();
	free(on);
	on = render(src, PROCVIEW_CPU_ONLINE);
	ck_assert_str_eq(on, "0-3\n");
	procview_source_free(src);
}
END_TEST

START_TEST(test_uptime)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	struct timespec ts;
	cleanup_free char *u = NULL;
	double up, idle;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	procview_source_set_start(src, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - 100);
	u = render(src, PROCVIEW_UPTIME);
	ck_assert_int_eq(sscanf(u, "%lf %lf", &up, &idle), 2);
	ck_assert_msg(up >= 100 && up < 102, "uptime %s", u);
	/* idle: uptime less the 1.5 s of CPU used */
	ck_assert_msg(idle > up - 1.6 && idle < up - 1.4, "uptime %s", u);
	procview_source_free(src);
	/* no start known: the host's */
	src = source();
	free(u);
	u = render(src, PROCVIEW_UPTIME);
	ck_assert_str_eq(u, "5000.00 9000.00\n");
	procview_source_free(src);
}
END_TEST

START_TEST(test_loadavg)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	cleanup_free char *l = NULL;
	double a, b, c, d;
	unsigned run, total;
	long last;

	put("v1/cpu/tasks", "101\n102\n103\n");
	put("proc/101/stat", "101 (busy (x)) R 1 2 3\n");
	put("proc/102/stat", "102 (sleep) S 1 2 3\n");
	put("proc/103/stat", "103 (disk) D 1 2 3\n");
	l = render(src, PROCVIEW_LOADAVG);
	ck_assert_int_eq(sscanf(l, "%lf %lf %lf %u/%u %ld", &a, &b, &c, &run, &total, &last), 6);
	ck_assert_uint_eq(run, 2);
	ck_assert_uint_eq(total, 3);
	ck_assert_int_eq(last, 103);
	ck_assert(a == 2 && b == 2 && c == 2);
	/* everything asleep: the averages decay, the 1-minute one fastest */
	put("proc/101/stat", "101 (busy (x)) S 1 2 3\n");
	put("proc/103/stat", "103 (disk) S 1 2 3\n");
	src->load_at -= 60;
	free(l);
	l = render(src, PROCVIEW_LOADAVG);
	ck_assert_int_eq(sscanf(l, "%lf %lf %lf %u/%u %ld", &a, &b, &c, &run, &total, &last), 6);
	ck_assert_uint_eq(run, 0);
	ck_assert_msg(a > 0.7 && a < 0.8 && b > a && c > b, "loadavg %s", l);
	/* the reader, waiting for this answer (D), is not counted; the averages hold between samples */
	put("proc/103/stat", "103 (cat) D 1 2 3\n");
	procview_source_set_reader(src, 103);
	free(l);
	l = render(src, PROCVIEW_LOADAVG);
	ck_assert_int_eq(sscanf(l, "%lf %lf %lf %u/%u %ld", &d, &b, &c, &run, &total, &last), 6);
	ck_assert_uint_eq(run, 0);
	ck_assert_uint_eq(total, 2);
	ck_assert_int_eq(last, 102);
	ck_assert(d == a);
	/* a sample (the server's, every few seconds) counts every thread */
	src->load_at -= PROCVIEW_LOAD_EVERY;
	procview_source_sample(src);
	ck_assert(src->load[0] > a);
	procview_source_free(src);
}
END_TEST

START_TEST(test_swaps_and_diskstats)
{
	struct procview_source *src = make_v1("-1\n", "0-3\n");
	cleanup_free char *sw = render(src, PROCVIEW_SWAPS);
	cleanup_free char *ds = render(src, PROCVIEW_DISKSTATS);

	ck_assert_ptr_nonnull(strstr(sw, "\nnone"));
	ck_assert_ptr_nonnull(strstr(sw, "virtual\t\t98304\t\t2048\t\t0\n"));
	/* only sda, where the container did I/O: 5 reads of 8 sectors, 7 writes of 16 */
	ck_assert_str_eq(ds, "   8       0 sda 5 0 8 0 7 0 16 0 0 0 0 0 0 0 0 0 0\n");
	procview_source_free(src);
	src = make_v2("max 100000\n", "0-3\n");
	free(ds);
	ds = render(src, PROCVIEW_DISKSTATS);
	ck_assert_str_eq(ds, "   8      16 sdb 3 0 2 0 4 0 4 0 0 0 0 0 0 0 0 0 0\n");
	procview_source_free(src);
}
END_TEST

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static ssize_t read_file(const char *path, char *buf, size_t len, int *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		*e = errno;
		return -1;
	}
	n = read(fd, buf, len - 1);
	*e = errno;
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* Serves file @f of @src on a FUSE connection of its own, mounted on @file; the device goes in *fd. */
static struct procview_server *serve_one(struct procview_source *src, enum procview_file f,
					 const char *file, int *fd)
{
	struct procview_server *srv = NULL;
	struct strata_error *err = NULL;
	cleanup_free char *data = NULL;
	int fds[PROCVIEW_N_FILES];

	for (int i = 0; i < PROCVIEW_N_FILES; i++)
		fds[i] = -1;
	fds[f] = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fds[f], 0);
	*fd = fds[f];
	data = procview_mount_data(fds[f], f);
	ck_assert_int_eq(mount("strata", file, PROCVIEW_FSTYPE, MS_RDONLY | MS_NOSUID | MS_NODEV,
			       data),
			 0);
	ck_assert_ok(procview_server_start(src, fds, &srv, &err), err);
	ck_assert_int_eq(fds[f], -1);
	procview_server_mounted(srv, 1u << f);
	return srv;
}

/*
 * The server on a real mount (a file whose root is the file): the same text
 * as the render; after it stops, reads fail at once.
 */
START_TEST(test_server_mount)
{
	struct procview_source *src = make_v1("150000\n", "0-3\n");
	struct procview_server *srv = NULL;
	cleanup_free char *file = path_join(scratch, "cpuinfo");
	cleanup_free char *want = render(src, PROCVIEW_CPUINFO);
	char buf[65536];
	int fd, fds, e = 0;
	struct stat st;

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	unit_write_file(file, "host\n", 0644);
	fds = count_fds();
	srv = serve_one(src, PROCVIEW_CPUINFO, file, &fd);
	ck_assert(procview_server_alive(srv));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_gt(read_file(file, buf, sizeof(buf), &e), 0);
		ck_assert_str_eq(buf, want);
	}
	ck_assert_int_eq(stat(file, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0444);
	/* read-only */
	ck_assert_int_lt(open(file, O_WRONLY | O_CLOEXEC), 0);
	procview_server_free(srv);
	ck_assert_int_eq(count_fds(), fds);
	ck_assert_int_lt(read_file(file, buf, sizeof(buf), &e), 0);
	ck_assert_int_eq(e, ENOTCONN);
	ck_assert_int_eq(umount2(file, MNT_DETACH), 0);
	ck_assert_int_gt(read_file(file, buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, "host\n");
}
END_TEST

/* The thread ends by itself once the last mount is gone. */
START_TEST(test_server_ends_with_mount)
{
	cleanup_free char *file = path_join(scratch, "meminfo");
	struct procview_server *srv;
	int fd;

	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	unit_write_file(file, "host\n", 0644);
	srv = serve_one(source(), PROCVIEW_MEMINFO, file, &fd);
	ck_assert_int_eq(umount2(file, MNT_DETACH), 0);
	for (int i = 0; i < 200 && procview_server_alive(srv); i++)
		usleep(10000);
	ck_assert(!procview_server_alive(srv));
	procview_server_free(srv);
}
END_TEST

/* Names in directory @dir but "." and "..", sorted, joined by spaces. Caller frees. */
static char *list_dir(const char *dir)
{
	struct dirent **ents = NULL;
	struct sbuf b = SBUF_INIT;
	int n = scandir(dir, &ents, NULL, alphasort);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
			sbuf_addf(&b, "%s%s", b.len ? " " : "", ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return sbuf_detach(&b, NULL);
}

/*
 * The cpu directory: the host's, but for the CPUs outside the cpuset (and,
 * under a quota that cuts them, renumbered from 0); "online" is the view's.
 */
START_TEST(test_server_cpu_dir)
{
	cleanup_free char *proc = path_join(scratch, "proc");
	cleanup_free char *online = path_join(scratch, "cpu/online");
	cleanup_free char *cpuset = path_join(scratch, "v1/cpuset");
	cleanup_free char *cpu = path_join(scratch, "v1/cpu");
	cleanup_free char *mnt = path_join(scratch, "mnt");
	cleanup_free char *link = path_join(scratch, "cpu/cpu2/subsystem");
	cleanup_free char *names = NULL;
	struct procview_source *src;
	struct procview_server *srv;
	char buf[4096], path[PATH_MAX];
	int fd, e = 0;
	ssize_t n;

	put("cpu/online", "0-3\n");
	put("cpu/kernel_max", "1023\n");
	for (int i = 0; i < 4; i++) {
		cleanup_free char *f = xasprintf("cpu/cpu%d/topology/core_id", i);
		cleanup_free char *v = xasprintf("%d\n", i);

		put(f, v);
	}
	ck_assert_int_eq(symlink("../../bus/cpu", link), 0);
	put("v1/cpuset/cpuset.effective_cpus", "1-2\n");
	put("v1/cpu/cpu.cfs_quota_us", "-1\n");
	put("v1/cpu/cpu.cfs_period_us", "100000\n");
	src = procview_source_new(proc, online);
	procview_source_set_dir(src, "cpuset", cpuset);
	procview_source_set_dir(src, "cpu", cpu);
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	srv = serve_one(src, PROCVIEW_CPU_ONLINE, mnt, &fd);
	names = list_dir(mnt);
	ck_assert_str_eq(names, "cpu1 cpu2 kernel_max online");
	snprintf(path, sizeof(path), "%s/online", mnt);
	ck_assert_int_gt(read_file(path, buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, "1-2\n");
	snprintf(path, sizeof(path), "%s/cpu2/topology/core_id", mnt);
	ck_assert_int_gt(read_file(path, buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, "2\n");
	snprintf(path, sizeof(path), "%s/cpu0/topology/core_id", mnt);
	ck_assert_int_lt(read_file(path, buf, sizeof(buf), &e), 0);
	ck_assert_int_eq(e, ENOENT);
	snprintf(path, sizeof(path), "%s/cpu2/subsystem", mnt);
	n = readlink(path, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, (ssize_t)strlen("../../bus/cpu"));
	snprintf(path, sizeof(path), "%s/kernel_max", mnt);
	ck_assert_int_lt(open(path, O_WRONLY | O_CLOEXEC), 0);
	/* a quota of 1 CPU: the first of the cpuset, shown as cpu0 */
	put("v1/cpu/cpu.cfs_quota_us", "100000\n");
	usleep(1100 * 1000); /* the kernel keeps the entries a second */
	free(names);
	names = list_dir(mnt);
	ck_assert_str_eq(names, "cpu0 kernel_max online");
	snprintf(path, sizeof(path), "%s/cpu0/topology/core_id", mnt);
	ck_assert_int_gt(read_file(path, buf, sizeof(buf), &e), 0);
	ck_assert_str_eq(buf, "1\n");
	procview_server_free(srv);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
}
END_TEST

/* A server told that none of its devices is mounted ends at once, closing them. */
START_TEST(test_server_none_mounted)
{
	struct procview_server *srv = NULL;
	struct strata_error *err = NULL;
	int fds[PROCVIEW_N_FILES], before = count_fds();

	ck_assert_ok(procview_devices_open(fds, &err), err);
	ck_assert_int_eq(count_fds(), before + PROCVIEW_N_FILES);
	ck_assert_ok(procview_server_start(source(), fds, &srv, &err), err);
	procview_server_mounted(srv, 0);
	for (int i = 0; i < 200 && procview_server_alive(srv); i++)
		usleep(10000);
	ck_assert(!procview_server_alive(srv));
	procview_server_free(srv);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("procview");
	TCase *tc = tcase_create("render");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cpus_parse);
	tcase_add_test(tc, test_meminfo_v1);
	tcase_add_test(tc, test_meminfo_unlimited_is_host);
	tcase_add_test(tc, test_meminfo_v2);
	tcase_add_test(tc, test_cpus_quota_v1);
	tcase_add_test(tc, test_cpus_quota_v2);
	tcase_add_test(tc, test_cpuset_and_quota);
	tcase_add_test(tc, test_no_limits_all_cpus);
	tcase_add_test(tc, test_uptime);
	tcase_add_test(tc, test_loadavg);
	tcase_add_test(tc, test_swaps_and_diskstats);
	suite_add_tcase(s, tc);
	/*
	 * Not under valgrind: its threads never serve the mount (the reader
	 * waits for ever, in an uninterruptible FUSE wait).
	 */
	if (getenv("STRATA_UNDER_VALGRIND")) {
		printf("SKIP: procview: the FUSE server under valgrind\n");
		return s;
	}
	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_server_mount);
	tcase_add_test(tc, test_server_ends_with_mount);
	tcase_add_test(tc, test_server_none_mounted);
	tcase_add_test(tc, test_server_cpu_dir);
	unit_need_root(s, tc, "mounting a FUSE filesystem needs root");
	return s;
}
