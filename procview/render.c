/*
 * The view's files, computed as LXCFS computes them: the host's file with
 * the lines a cgroup limits replaced by the container's values. Memory from
 * memory.stat and the usage (v1 memory.*, v2 memory.current/max/stat and
 * the swap files); CPUs from the cpuset, cut to ceil(quota/period) where a
 * CFS quota is set; per-CPU times from cpuacct.usage_all (v1) or cpu.stat
 * (v2, which has no per-CPU split: spread evenly); uptime from the start of
 * the container's PID 1, idle as uptime less the CPU time used (LXCFS's
 * reading); loadavg an estimate from the tasks of the cgroup (below); I/O
 * from blkio's throttle counters (v1) or io.stat (v2).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procview/procview-int.h"

static const struct {
	const char *name, *target;
} files[PROCVIEW_N_FILES] = {
    [PROCVIEW_MEMINFO] = {"meminfo", "proc/meminfo"},
    [PROCVIEW_CPUINFO] = {"cpuinfo", "proc/cpuinfo"},
    [PROCVIEW_STAT] = {"stat", "proc/stat"},
    [PROCVIEW_UPTIME] = {"uptime", "proc/uptime"},
    [PROCVIEW_LOADAVG] = {"loadavg", "proc/loadavg"},
    [PROCVIEW_SWAPS] = {"swaps", "proc/swaps"},
    [PROCVIEW_DISKSTATS] = {"diskstats", "proc/diskstats"},
    [PROCVIEW_CPU_ONLINE] = {"cpu-online", "sys/devices/system/cpu"},
};

const char *procview_file_name(enum procview_file f)
{
	return f < PROCVIEW_N_FILES ? files[f].name : NULL;
}

bool procview_file_is_dir(enum procview_file f)
{
	return f == PROCVIEW_CPU_ONLINE;
}

const char *procview_file_target(enum procview_file f)
{
	return f < PROCVIEW_N_FILES ? files[f].target : NULL;
}

struct procview_source *procview_source_new(const char *host_proc, const char *host_cpu_online)
{
	struct procview_source *src = xcalloc(1, sizeof(*src));

	src->host_proc = xstrdup(host_proc);
	src->host_cpu_online = xstrdup(host_cpu_online);
	src->hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return src;
}

void procview_source_set_dir(struct procview_source *src, const char *controller, const char *dir)
{
	char **slot = NULL;

	if (!*controller) {
		src->version = 2;
		free(src->memory);
		free(src->cpu);
		free(src->cpuacct);
		free(src->cpuset);
		free(src->blkio);
		src->memory = xstrdup(dir);
		src->cpu = xstrdup(dir);
		src->cpuacct = xstrdup(dir);
		src->cpuset = xstrdup(dir);
		src->blkio = xstrdup(dir);
		return;
	}
	if (!strcmp(controller, "memory"))
		slot = &src->memory;
	else if (!strcmp(controller, "cpu"))
		slot = &src->cpu;
	else if (!strcmp(controller, "cpuacct"))
		slot = &src->cpuacct;
	else if (!strcmp(controller, "cpuset"))
		slot = &src->cpuset;
	else if (!strcmp(controller, "blkio"))
		slot = &src->blkio;
	else if (!strcmp(controller, "cpu,cpuacct")) {
		procview_source_set_dir(src, "cpu", dir);
		slot = &src->cpuacct;
	}
	if (!slot)
		return;
	src->version = 1;
	free(*slot);
	*slot = xstrdup(dir);
}

void procview_source_set_start(struct procview_source *src, double boottime)
{
	src->start = boottime;
}

void procview_source_set_reader(struct procview_source *src, pid_t reader)
{
	src->reader = reader;
}

void procview_source_free(struct procview_source *src)
{
	if (!src)
		return;
	free(src->host_proc);
	free(src->host_cpu_online);
	free(src->memory);
	free(src->cpu);
	free(src->cpuacct);
	free(src->cpuset);
	free(src->blkio);
	free(src);
}

/* The text of file @path (NUL-terminated, at most 1 MiB), or NULL when it cannot be read. */
static char *read_path(const char *path)
{
	char *out = NULL;

	if (file_read_at(AT_FDCWD, path, 1 << 20, &out, NULL, NULL) < 0)
		return NULL;
	return out;
}

/* The text of @dir/@name, or NULL. */
static char *read_text(const char *dir, const char *name)
{
	char path[4096];

	if (!dir || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return NULL;
	return read_path(path);
}

/*
 * A number from @dir/@name: *v, and true; false when the file is missing or
 * says "max" (v2's no limit).
 */
static bool read_u64(const char *dir, const char *name, uint64_t *v)
{
	cleanup_free char *t = read_text(dir, name);
	char *end;

	if (!t || !strncmp(t, "max", 3))
		return false;
	errno = 0;
	*v = strtoull(t, &end, 10);
	return end != t && errno == 0;
}

uint64_t procview_kv(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, n) && (p[n] == ' ' || p[n] == '\t'))
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* ---- CPUs ---- */

int procview_cpus_parse(const char *s, struct procview_cpus *set)
{
	memset(set, 0, sizeof(*set));
	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return -1;
		s = end;
		if (*s == '-') {
			b = strtoul(s + 1, &end, 10);
			if (end == s + 1)
				return -1;
			s = end;
		}
		if (a > b || b >= PROCVIEW_MAX_CPUS)
			return -1;
		for (unsigned long c = a; c <= b; c++)
			set->bits[c / 64] |= 1ULL << (c % 64);
		if (*s == ',')
			s++;
		else if (*s && *s != '\n')
			return -1;
	}
	return 0;
}

unsigned procview_cpus_count(const struct procview_cpus *set)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(set->bits); i++)
		n += (unsigned)__builtin_popcountll(set->bits[i]);
	return n;
}

bool procview_cpus_has(const struct procview_cpus *set, unsigned cpu)
{
	return cpu < PROCVIEW_MAX_CPUS && (set->bits[cpu / 64] >> (cpu % 64)) & 1;
}

/* The CFS quota as a CPU count rounded up; 0 when none is set. */
static unsigned quota_cpus(const struct procview_source *src)
{
	uint64_t quota = 0, period = 0;

	if (src->version == 2) {
		cleanup_free char *t = read_text(src->cpu, "cpu.max");

		if (!t || !strncmp(t, "max", 3) ||
		    sscanf(t, "%" SCNu64 " %" SCNu64, &quota, &period) != 2)
			return 0;
	} else {
		cleanup_free char *q = read_text(src->cpu, "cpu.cfs_quota_us");

		if (!q || q[0] == '-' || !read_u64(src->cpu, "cpu.cfs_period_us", &period))
			return 0;
		quota = strtoull(q, NULL, 10);
	}
	if (!quota || !period)
		return 0;
	return (unsigned)((quota + period - 1) / period);
}

void procview_visible_cpus(const struct procview_source *src, struct procview_visible *v)
{
	cleanup_free char *list = NULL;
	unsigned q;

	memset(v, 0, sizeof(*v));
	if (src->version == 2)
		list = read_text(src->cpuset, "cpuset.cpus.effective");
	else if (src->version == 1) {
		list = read_text(src->cpuset, "cpuset.effective_cpus");
		if (!list || !*list || *list == '\n') {
			free(list);
			list = read_text(src->cpuset, "cpuset.cpus");
		}
	}
	if (!list || !*list || *list == '\n' || procview_cpus_parse(list, &v->cpus) < 0) {
		free(list);
		list = read_path(src->host_cpu_online);
		if (!list || procview_cpus_parse(list, &v->cpus) < 0)
			procview_cpus_parse("0", &v->cpus);
	}
	v->n = procview_cpus_count(&v->cpus);
	q = quota_cpus(src);
	if (q && q < v->n) {
		/* keep the first q CPUs of the set */
		unsigned kept = 0;

		for (unsigned c = 0; c < PROCVIEW_MAX_CPUS; c++)
			if (procview_cpus_has(&v->cpus, c) && ++kept > q)
				v->cpus.bits[c / 64] &= ~(1ULL << (c % 64));
		v->n = q;
		v->renumbered = true;
	}
}

/* "0-1,3": @set as a kernel CPU list. */
static void cpus_format(const struct procview_cpus *set, struct sbuf *out)
{
	bool first = true;

	for (unsigned c = 0; c < PROCVIEW_MAX_CPUS; c++) {
		unsigned e = c;

		if (!procview_cpus_has(set, c))
			continue;
		while (e + 1 < PROCVIEW_MAX_CPUS && procview_cpus_has(set, e + 1))
			e++;
		sbuf_addf(out, e > c ? "%s%u-%u" : "%s%u", first ? "" : ",", c, e);
		first = false;
		c = e;
	}
	sbuf_addstr(out, "\n");
}

static int render_cpu_online(struct procview_source *src, struct sbuf *out)
{
	struct procview_visible v;

	procview_visible_cpus(src, &v);
	if (v.renumbered)
		sbuf_addf(out, v.n > 1 ? "0-%u\n" : "0\n", v.n - 1);
	else
		cpus_format(&v.cpus, out);
	return 0;
}

/* Reads host file @name of the proc root into *text. */
static int host_file(const struct procview_source *src, const char *name, char **text,
		     struct strata_error **err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", src->host_proc, name);
	return file_read_at(AT_FDCWD, path, 16 << 20, text, NULL, err);
}

/* /proc/cpuinfo: the blocks of the visible CPUs, numbered from 0 (as LXCFS does). */
static int render_cpuinfo(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	cleanup_free char *text = NULL;
	struct procview_visible v;
	bool printing = false;
	unsigned shown = 0;

	if (host_file(src, "cpuinfo", &text, err) < 0)
		return -1;
	procview_visible_cpus(src, &v);
	for (char *line = text, *next; line && *line; line = next) {
		unsigned cpu;

		next = strchr(line, '\n');
		next = next ? next + 1 : NULL;
		if (!strncmp(line, "processor", 9) && sscanf(line, "processor : %u", &cpu) == 1) {
			printing = procview_cpus_has(&v.cpus, cpu) && shown < v.n;
			if (printing)
				sbuf_addf(out, "processor\t: %u\n", shown++);
			continue;
		}
		if (printing)
			sbuf_add(out, line, next ? (size_t)(next - line) : strlen(line));
	}
	return 0;
}

/* ---- memory ---- */

/* What the container's memory cgroup says, in bytes; limits UINT64_MAX when none. */
struct mem {
	uint64_t limit, usage, swap_limit, swap_used;
	uint64_t cache, active_anon, inactive_anon, active_file, inactive_file, unevictable;
	uint64_t shmem, mapped, dirty, writeback, slab_reclaimable, slab_unreclaimable, anon_thp;
};

/* v2: the lowest memory.max (or memory.swap.max) of @dir and its ancestors, as the kernel applies.
 */
static uint64_t v2_min_limit(const char *dir, const char *name)
{
	cleanup_free char *d = xstrdup(dir);
	uint64_t min = UINT64_MAX;

	for (;;) {
		cleanup_free char *t = read_text(d, name);
		char *slash;

		if (!t)
			break;
		if (strncmp(t, "max", 3)) {
			uint64_t v = strtoull(t, NULL, 10);

			if (v < min)
				min = v;
		}
		slash = strrchr(d, '/');
		if (!slash || slash == d)
			break;
		*slash = '\0';
	}
	return min;
}

static void mem_read_v2(const struct procview_source *src, struct mem *m)
{
	cleanup_free char *st = read_text(src->memory, "memory.stat");

	m->limit = v2_min_limit(src->memory, "memory.max");
	m->swap_limit = v2_min_limit(src->memory, "memory.swap.max");
	if (!read_u64(src->memory, "memory.current", &m->usage))
		m->usage = 0;
	if (!read_u64(src->memory, "memory.swap.current", &m->swap_used))
		m->swap_used = 0;
	m->cache = procview_kv(st, "file");
	m->active_anon = procview_kv(st, "active_anon");
	m->inactive_anon = procview_kv(st, "inactive_anon");
	m->active_file = procview_kv(st, "active_file");
	m->inactive_file = procview_kv(st, "inactive_file");
	m->unevictable = procview_kv(st, "unevictable");
	m->shmem = procview_kv(st, "shmem");
	m->mapped = procview_kv(st, "file_mapped");
	m->dirty = procview_kv(st, "file_dirty");
	m->writeback = procview_kv(st, "file_writeback");
	m->slab_reclaimable = procview_kv(st, "slab_reclaimable");
	m->slab_unreclaimable = procview_kv(st, "slab_unreclaimable");
	m->anon_thp = procview_kv(st, "anon_thp");
}

/* v1: the limits are the lower of the cgroup's own and the hierarchical ones memory.stat gives. */
static void mem_read_v1(const struct procview_source *src, struct mem *m)
{
	cleanup_free char *st = read_text(src->memory, "memory.stat");
	uint64_t v, memsw_usage = 0;

	m->limit = m->swap_limit = UINT64_MAX;
	if (read_u64(src->memory, "memory.limit_in_bytes", &v))
		m->limit = v;
	v = procview_kv(st, "hierarchical_memory_limit");
	if (v && v < m->limit)
		m->limit = v;
	if (read_u64(src->memory, "memory.memsw.limit_in_bytes", &v))
		m->swap_limit = v;
	v = procview_kv(st, "hierarchical_memsw_limit");
	if (v && v < m->swap_limit)
		m->swap_limit = v;
	if (!read_u64(src->memory, "memory.usage_in_bytes", &m->usage))
		m->usage = 0;
	if (read_u64(src->memory, "memory.memsw.usage_in_bytes", &memsw_usage) &&
	    memsw_usage > m->usage)
		m->swap_used = memsw_usage - m->usage;
	m->cache = procview_kv(st, "total_cache");
	m->active_anon = procview_kv(st, "total_active_anon");
	m->inactive_anon = procview_kv(st, "total_inactive_anon");
	m->active_file = procview_kv(st, "total_active_file");
	m->inactive_file = procview_kv(st, "total_inactive_file");
	m->unevictable = procview_kv(st, "total_unevictable");
	m->shmem = procview_kv(st, "total_shmem");
	m->mapped = procview_kv(st, "total_mapped_file");
	m->dirty = procview_kv(st, "total_dirty");
	m->writeback = procview_kv(st, "total_writeback");
	m->anon_thp = procview_kv(st, "total_rss_huge");
}

/* A meminfo line: the name padded to LXCFS's (and the kernel's) 16 columns, kB. */
static void meminfo_line(struct sbuf *out, const char *name, uint64_t bytes)
{
	sbuf_addf(out, "%-15s %8" PRIu64 " kB\n", name, bytes / 1024);
}

/* The container's value of meminfo field @name (with its ':'); false to keep the host's line. */
static bool meminfo_value(const struct mem *m, const char *name, uint64_t *v)
{
	static const char *const zero[] = {
	    "Buffers:", "SwapCached:", "ShmemHugePages:", "ShmemPmdMapped:", NULL};
	uint64_t free_ = m->limit > m->usage ? m->limit - m->usage : 0;

	for (size_t i = 0; zero[i]; i++)
		if (!strcmp(name, zero[i])) {
			*v = 0;
			return true;
		}
#define FIELD(n, val)                                                                              \
	if (!strcmp(name, n)) {                                                                    \
		*v = (val);                                                                        \
		return true;                                                                       \
	}
	FIELD("MemTotal:", m->limit);
	FIELD("MemFree:", free_);
	FIELD("MemAvailable:", free_ + m->active_file + m->inactive_file + m->slab_reclaimable);
	FIELD("Cached:", m->cache);
	FIELD("Active:", m->active_anon + m->active_file);
	FIELD("Inactive:", m->inactive_anon + m->inactive_file);
	FIELD("Active(anon):", m->active_anon);
	FIELD("Inactive(anon):", m->inactive_anon);
	FIELD("Active(file):", m->active_file);
	FIELD("Inactive(file):", m->inactive_file);
	FIELD("Unevictable:", m->unevictable);
	FIELD("Dirty:", m->dirty);
	FIELD("Writeback:", m->writeback);
	FIELD("AnonPages:", m->active_anon + m->inactive_anon > m->shmem
				? m->active_anon + m->inactive_anon - m->shmem
				: 0);
	FIELD("Mapped:", m->mapped);
	FIELD("Shmem:", m->shmem);
	FIELD("Slab:", m->slab_reclaimable + m->slab_unreclaimable);
	FIELD("SReclaimable:", m->slab_reclaimable);
	FIELD("SUnreclaim:", m->slab_unreclaimable);
	FIELD("AnonHugePages:", m->anon_thp);
	FIELD("SwapTotal:", m->swap_limit);
	FIELD("SwapFree:", m->swap_limit > m->swap_used ? m->swap_limit - m->swap_used : 0);
#undef FIELD
	return false;
}

/* The host's "Name:   N kB" value of @name in @text, in bytes; 0 when absent. */
static uint64_t host_kb(const char *text, const char *name)
{
	const char *p = strstr(text, name);

	return p ? strtoull(p + strlen(name), NULL, 10) * 1024 : 0;
}

/* Reads the memory cgroup, bounding the limits by the host's memory and swap. */
static void mem_read(const struct procview_source *src, const char *host, struct mem *m)
{
	uint64_t total = host_kb(host, "MemTotal:"), swap = host_kb(host, "SwapTotal:");

	memset(m, 0, sizeof(*m));
	m->limit = m->swap_limit = UINT64_MAX;
	if (src->version == 2)
		mem_read_v2(src, m);
	else if (src->version == 1 && src->memory)
		mem_read_v1(src, m);
	if (!src->memory || src->version == 0) {
		/* no memory cgroup: the host's lines, untouched */
		m->limit = 0;
		return;
	}
	if (m->limit > total)
		m->limit = total;
	if (m->swap_limit > swap)
		m->swap_limit = swap;
	if (m->swap_used > m->swap_limit)
		m->swap_used = m->swap_limit;
}

static int render_meminfo(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	cleanup_free char *text = NULL;
	struct mem m;

	if (host_file(src, "meminfo", &text, err) < 0)
		return -1;
	mem_read(src, text, &m);
	for (char *line = text, *next; line && *line; line = next) {
		char name[64];
		uint64_t v;

		next = strchr(line, '\n');
		next = next ? next + 1 : NULL;
		if (m.limit && sscanf(line, "%63s", name) == 1 && meminfo_value(&m, name, &v))
			meminfo_line(out, name, v);
		else
			sbuf_add(out, line, next ? (size_t)(next - line) : strlen(line));
	}
	return 0;
}

/* /proc/swaps: one virtual line when the container may swap (LXCFS's form). */
static int render_swaps(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	cleanup_free char *text = NULL;
	cleanup_free char *swaps = NULL;
	struct mem m;

	if (host_file(src, "meminfo", &text, err) < 0)
		return -1;
	mem_read(src, text, &m);
	if (!m.limit) {
		if (host_file(src, "swaps", &swaps, err) < 0)
			return -1;
		sbuf_addstr(out, swaps);
		return 0;
	}
	sbuf_addstr(out, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	if (m.swap_limit)
		sbuf_addf(out, "none%*svirtual\t\t%" PRIu64 "\t\t%" PRIu64 "\t\t0\n", 36, "",
			  m.swap_limit / 1024, m.swap_used / 1024);
	return 0;
}

/* ---- CPU time ---- */

/* The container's CPU time in clock ticks: per CPU when the cgroup splits it (v1). */
struct cpu_use {
	bool known, per_cpu;
	uint64_t user, system;		 /* totals */
	uint64_t *cpu_user, *cpu_system; /* per_cpu: indexed by physical CPU */
	double busy_seconds;		 /* user + system, for uptime's idle */
};

static void cpu_use_release(struct cpu_use *u)
{
	free(u->cpu_user);
	free(u->cpu_system);
}

/* v1 cpuacct.usage_all: "cpu user system" then one line per CPU, in nanoseconds. */
static void cpu_use_v1(const struct procview_source *src, struct cpu_use *u)
{
	cleanup_free char *t = read_text(src->cpuacct, "cpuacct.usage_all");
	double tick = 1e9 / (double)src->hz;
	uint64_t total;

	if (read_u64(src->cpuacct, "cpuacct.usage", &total)) {
		u->known = true;
		u->busy_seconds = (double)total / 1e9;
	}
	if (!t)
		return;
	u->cpu_user = xcalloc(PROCVIEW_MAX_CPUS, sizeof(uint64_t));
	u->cpu_system = xcalloc(PROCVIEW_MAX_CPUS, sizeof(uint64_t));
	for (char *line = strchr(t, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
		unsigned cpu;
		uint64_t us, sy;

		if (sscanf(line + 1, "%u %" SCNu64 " %" SCNu64, &cpu, &us, &sy) != 3 ||
		    cpu >= PROCVIEW_MAX_CPUS)
			continue;
		u->cpu_user[cpu] = (uint64_t)((double)us / tick);
		u->cpu_system[cpu] = (uint64_t)((double)sy / tick);
		u->user += u->cpu_user[cpu];
		u->system += u->cpu_system[cpu];
	}
	u->known = u->per_cpu = true;
}

/* v2 cpu.stat: totals in microseconds, no per-CPU split. */
static void cpu_use_v2(const struct procview_source *src, struct cpu_use *u)
{
	cleanup_free char *t = read_text(src->cpuacct, "cpu.stat");
	double tick = 1e6 / (double)src->hz;

	if (!t)
		return;
	u->known = true;
	u->user = (uint64_t)((double)procview_kv(t, "user_usec") / tick);
	u->system = (uint64_t)((double)procview_kv(t, "system_usec") / tick);
	u->busy_seconds = (double)procview_kv(t, "usage_usec") / 1e6;
}

static void cpu_use_read(const struct procview_source *src, struct cpu_use *u)
{
	memset(u, 0, sizeof(*u));
	if (src->version == 2)
		cpu_use_v2(src, u);
	else if (src->version == 1 && src->cpuacct)
		cpu_use_v1(src, u);
}

/* One host "cpuN" line's ten counters. */
struct cpu_line {
	uint64_t f[10]; /* user nice system idle iowait irq softirq steal guest guest_nice */
};

/*
 * The line of visible CPU @phys (shown as @shown): the container's user and
 * system time, and as idle the host's idle plus what other cgroups used of
 * that CPU (LXCFS's reading).
 */
static void stat_cpu_line(const struct procview_visible *v, const struct cpu_use *u, unsigned phys,
			  unsigned shown, struct cpu_line *l, struct cpu_line *sum,
			  struct sbuf *out)
{
	uint64_t busy = 0, cu, cs;

	if (!u->known) {
		for (int i = 0; i < 10; i++)
			sum->f[i] += l->f[i];
		sbuf_addf(out, "cpu%u", shown);
		for (int i = 0; i < 10; i++)
			sbuf_addf(out, " %" PRIu64, l->f[i]);
		sbuf_addstr(out, "\n");
		return;
	}
	for (int i = 0; i < 10; i++)
		if (i != 3)
			busy += l->f[i];
	if (u->per_cpu && !v->renumbered) {
		cu = u->cpu_user[phys];
		cs = u->cpu_system[phys];
	} else {
		cu = u->user / v->n;
		cs = u->system / v->n;
	}
	if (busy >= cu + cs)
		l->f[3] += busy - (cu + cs);
	sbuf_addf(out, "cpu%u %" PRIu64 " 0 %" PRIu64 " %" PRIu64 " 0 0 0 0 0 0\n", shown, cu, cs,
		  l->f[3]);
	sum->f[0] += cu;
	sum->f[2] += cs;
	sum->f[3] += l->f[3];
}

static int render_stat(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	cleanup_free char *text = NULL;
	struct sbuf cpus = SBUF_INIT, rest = SBUF_INIT;
	struct procview_visible v;
	struct cpu_line sum = {{0}};
	struct cpu_use u;
	unsigned shown = 0;

	if (host_file(src, "stat", &text, err) < 0)
		return -1;
	procview_visible_cpus(src, &v);
	cpu_use_read(src, &u);
	for (char *line = text, *next; line && *line; line = next) {
		struct cpu_line l;
		unsigned cpu;

		next = strchr(line, '\n');
		next = next ? next + 1 : NULL;
		if (!strncmp(line, "cpu ", 4))
			continue;
		if (!strncmp(line, "cpu", 3)) {
			memset(&l, 0, sizeof(l));
			if (sscanf(line + 3,
				   "%u %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
				   &cpu, &l.f[0], &l.f[1], &l.f[2], &l.f[3], &l.f[4], &l.f[5],
				   &l.f[6], &l.f[7], &l.f[8], &l.f[9]) < 5 ||
			    !procview_cpus_has(&v.cpus, cpu))
				continue;
			stat_cpu_line(&v, &u, cpu, v.renumbered ? shown : cpu, &l, &sum, &cpus);
			shown++;
			continue;
		}
		sbuf_add(&rest, line, next ? (size_t)(next - line) : strlen(line));
	}
	sbuf_addstr(out, "cpu ");
	for (int i = 0; i < 10; i++)
		sbuf_addf(out, " %" PRIu64, sum.f[i]);
	sbuf_addstr(out, "\n");
	if (cpus.len)
		sbuf_add(out, cpus.buf, cpus.len);
	if (rest.len)
		sbuf_add(out, rest.buf, rest.len);
	sbuf_release(&cpus);
	sbuf_release(&rest);
	cpu_use_release(&u);
	return 0;
}

/* ---- uptime, loadavg ---- */

static double boottime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double procview_pid_boottime(pid_t pid)
{
	uint64_t ticks = sys_pid_start_time(pid);
	long hz = sysconf(_SC_CLK_TCK);

	return ticks ? (double)ticks / (double)(hz > 0 ? hz : 100) : 0;
}

/* Seconds since the container started, and idle as that less the CPU time it used. */
static int render_uptime(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	struct cpu_use u;
	double up, idle;

	if (!src->start) {
		cleanup_free char *text = NULL;

		if (host_file(src, "uptime", &text, err) < 0)
			return -1;
		sbuf_addstr(out, text);
		return 0;
	}
	up = boottime_now() - src->start;
	if (up < 0)
		up = 0;
	cpu_use_read(src, &u);
	cpu_use_release(&u);
	idle = up >= u.busy_seconds ? up - u.busy_seconds : up;
	sbuf_addf(out, "%.2f %.2f\n", up, idle);
	return 0;
}

/* The cgroup's list of threads: v2 cgroup.threads, v1 tasks (of the cpu, else memory, cgroup). */
static char *task_list(const struct procview_source *src)
{
	if (src->version == 2)
		return read_text(src->cpu, "cgroup.threads");
	if (src->version == 1)
		return read_text(src->cpu ? src->cpu : src->memory, "tasks");
	return NULL;
}

/* Counts the cgroup's threads, and those running (state R, or D as the kernel counts), but @skip. */
static bool task_count(const struct procview_source *src, pid_t skip, unsigned *running,
		       unsigned *total, long *last)
{
	cleanup_free char *tasks = task_list(src);

	*running = *total = 0;
	*last = 0;
	if (!tasks)
		return false;
	for (char *p = tasks; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		char path[64], buf[512];
		cleanup_close int fd = -1;
		ssize_t n;
		char *paren;

		if (end == p)
			break;
		p = *end ? end + 1 : end;
		if (pid == (long)skip && skip > 0)
			continue;
		(*total)++;
		if (pid > *last)
			*last = pid;
		snprintf(path, sizeof(path), "%s/%ld/stat", src->host_proc, pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (n <= 0)
			continue;
		buf[n] = '\0';
		paren = strrchr(buf, ')');
		if (paren && (paren[2] == 'R' || paren[2] == 'D'))
			(*running)++;
	}
	return true;
}

/* The averages decay toward @running over the time since the last sample (exp(-t/60), ...). */
static void load_update(struct procview_source *src, unsigned running, double now)
{
	static const double span[3] = { 60, 300, 900 };
	/* the first sample counts from the container's start, as the kernel's from boot */
	double since = src->load_at ? src->load_at : src->start;

	for (int i = 0; i < 3; i++) {
		double e = since && now > since ? exp(-(now - since) / span[i]) : 0;

		src->load[i] = src->load[i] * e + running * (1 - e);
	}
	src->load_at = now;
}

void procview_source_sample(struct procview_source *src)
{
	unsigned running, total;
	long last;

	if (task_count(src, 0, &running, &total, &last))
		load_update(src, running, boottime_now());
}

/*
 * /proc/loadavg: the three averages of the cgroup's running threads
 * (state R, or D as the kernel counts), sampled every PROCVIEW_LOAD_EVERY
 * seconds (the server's thread, as LXCFS's, and a read that finds the last
 * sample older) and decayed with the kernel's 1, 5 and 15 minute constants;
 * then running/total threads now and the highest host pid among them. The
 * reader itself, which waits for this answer, is never counted.
 */
static int render_loadavg(struct procview_source *src, struct sbuf *out, struct strata_error **err)
{
	unsigned running, total;
	long last;
	double now = boottime_now();

	if (!task_count(src, src->reader, &running, &total, &last)) {
		cleanup_free char *text = NULL;

		if (host_file(src, "loadavg", &text, err) < 0)
			return -1;
		sbuf_addstr(out, text);
		return 0;
	}
	if (!src->load_at || now - src->load_at >= PROCVIEW_LOAD_EVERY)
		load_update(src, running, now);
	sbuf_addf(out, "%.2f %.2f %.2f %u/%u %ld\n", src->load[0], src->load[1], src->load[2],
		  running, total, last);
	return 0;
}

/* ---- diskstats ---- */

struct dev_io {
	unsigned major, minor;
	uint64_t rios, wios, dios, rbytes, wbytes, dbytes;
};

static struct dev_io *dev_find(struct dev_io *d, size_t *n, size_t cap, unsigned ma, unsigned mi)
{
	for (size_t i = 0; i < *n; i++)
		if (d[i].major == ma && d[i].minor == mi)
			return &d[i];
	if (*n == cap)
		return NULL;
	memset(&d[*n], 0, sizeof(d[*n]));
	d[*n].major = ma;
	d[*n].minor = mi;
	return &d[(*n)++];
}

/* v1 blkio throttle counters: "MAJ:MIN Read|Write|Discard N" lines of @name. */
static void io_v1(const struct procview_source *src, const char *name, bool bytes, struct dev_io *d,
		  size_t *n, size_t cap)
{
	cleanup_free char *t = read_text(src->blkio, name);

	for (char *p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned ma, mi;
		char op[16];
		uint64_t v;
		struct dev_io *e;

		if (sscanf(p, "%u:%u %15s %" SCNu64, &ma, &mi, op, &v) != 4 ||
		    !(e = dev_find(d, n, cap, ma, mi)))
			continue;
		if (!strcmp(op, "Read"))
			*(bytes ? &e->rbytes : &e->rios) = v;
		else if (!strcmp(op, "Write"))
			*(bytes ? &e->wbytes : &e->wios) = v;
		else if (!strcmp(op, "Discard"))
			*(bytes ? &e->dbytes : &e->dios) = v;
	}
}

/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N". */
static void io_v2(const struct procview_source *src, struct dev_io *d, size_t *n, size_t cap)
{
	cleanup_free char *t = read_text(src->blkio, "io.stat");

	for (char *p = t; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned ma, mi;
		struct dev_io *e;
		char *eol = strchr(p, '\n');
		cleanup_free char *line = eol ? xstrndup(p, (size_t)(eol - p)) : xstrdup(p);
		char *s;

		if (sscanf(line, "%u:%u", &ma, &mi) != 2 || !(e = dev_find(d, n, cap, ma, mi)))
			continue;
		if ((s = strstr(line, "rbytes=")))
			e->rbytes = strtoull(s + 7, NULL, 10);
		if ((s = strstr(line, "wbytes=")))
			e->wbytes = strtoull(s + 7, NULL, 10);
		if ((s = strstr(line, "dbytes=")))
			e->dbytes = strtoull(s + 7, NULL, 10);
		if ((s = strstr(line, "rios=")))
			e->rios = strtoull(s + 5, NULL, 10);
		if ((s = strstr(line, "wios=")))
			e->wios = strtoull(s + 5, NULL, 10);
		if ((s = strstr(line, "dios=")))
			e->dios = strtoull(s + 5, NULL, 10);
	}
}

/*
 * The host's devices the container did I/O on, with its counts of requests
 * and sectors (512 bytes); the times and merges, which a cgroup does not
 * count per device, are 0.
 */
static int render_diskstats(struct procview_source *src, struct sbuf *out,
			    struct strata_error **err)
{
	cleanup_free char *text = NULL;
	struct dev_io devs[256];
	size_t n = 0;

	if (host_file(src, "diskstats", &text, err) < 0)
		return -1;
	if (src->version == 0) {
		sbuf_addstr(out, text);
		return 0;
	}
	if (src->version == 2) {
		io_v2(src, devs, &n, ARRAY_SIZE(devs));
	} else {
		io_v1(src, "blkio.throttle.io_serviced_recursive", false, devs, &n,
		      ARRAY_SIZE(devs));
		io_v1(src, "blkio.throttle.io_service_bytes_recursive", true, devs, &n,
		      ARRAY_SIZE(devs));
	}
	for (char *line = text, *next; line && *line; line = next) {
		unsigned ma, mi;
		char name[64];
		struct dev_io *e = NULL;

		next = strchr(line, '\n');
		next = next ? next + 1 : NULL;
		if (sscanf(line, "%u %u %63s", &ma, &mi, name) != 3)
			continue;
		for (size_t i = 0; i < n && !e; i++)
			if (devs[i].major == ma && devs[i].minor == mi)
				e = &devs[i];
		if (!e || !(e->rios + e->wios + e->dios))
			continue;
		sbuf_addf(out,
			  "%4u %7u %s %" PRIu64 " 0 %" PRIu64 " 0 %" PRIu64 " 0 %" PRIu64
			  " 0 0 0 0 %" PRIu64 " 0 %" PRIu64 " 0 0 0\n",
			  ma, mi, name, e->rios, e->rbytes / 512, e->wios, e->wbytes / 512, e->dios,
			  e->dbytes / 512);
	}
	return 0;
}

int procview_render(struct procview_source *src, enum procview_file f, struct sbuf *out,
		    struct strata_error **err)
{
	switch (f) {
	case PROCVIEW_MEMINFO:
		return render_meminfo(src, out, err);
	case PROCVIEW_CPUINFO:
		return render_cpuinfo(src, out, err);
	case PROCVIEW_STAT:
		return render_stat(src, out, err);
	case PROCVIEW_UPTIME:
		return render_uptime(src, out, err);
	case PROCVIEW_LOADAVG:
		return render_loadavg(src, out, err);
	case PROCVIEW_SWAPS:
		return render_swaps(src, out, err);
	case PROCVIEW_DISKSTATS:
		return render_diskstats(src, out, err);
	case PROCVIEW_CPU_ONLINE:
		return render_cpu_online(src, out);
	case PROCVIEW_N_FILES:
		break;
	}
	return strata_fail_msg(err, EINVAL, "no such file in the view");
}
