/*
 * Internals of the procview module, shared between its .c files and its
 * unit tests only.
 */
#ifndef STRATA_PROCVIEW_PROCVIEW_INT_H
#define STRATA_PROCVIEW_PROCVIEW_INT_H

#include "procview/procview.h"

/* ---- render.c ---- */

#define PROCVIEW_MAX_CPUS 1024

/* A set of CPU numbers: a bit per CPU. */
struct procview_cpus {
	uint64_t bits[PROCVIEW_MAX_CPUS / 64];
};

/* Parses a kernel CPU list ("0-3,8,10-11\n"); -1 when malformed. */
int procview_cpus_parse(const char *s, struct procview_cpus *set);

/* How many CPUs @set holds. */
unsigned procview_cpus_count(const struct procview_cpus *set);

/* True when @cpu is in @set. */
bool procview_cpus_has(const struct procview_cpus *set, unsigned cpu);

/* The CPUs a container sees: its cpuset, cut to ceil(quota/period) when a quota is set. */
struct procview_visible {
	struct procview_cpus cpus; /* physical numbers, the first @n of the cpuset */
	unsigned n;
	bool renumbered; /* the quota cut the cpuset: CPUs shown as 0..n-1 */
};

/* Computes the visible CPUs of @src. */
void procview_visible_cpus(const struct procview_source *src, struct procview_visible *v);

struct procview_source {
	char *host_proc, *host_cpu_online;
	int version;				       /* 0: no cgroup, 1, 2 */
	char *memory, *cpu, *cpuacct, *cpuset, *blkio; /* v2: all the unified directory */
	double start;		 /* CLOCK_BOOTTIME seconds; 0: the host's uptime */
	double load[3], load_at; /* the decayed averages and when they were last sampled */
	long hz;
	pid_t reader; /* the thread reading, left out of loadavg's count; 0: none */
};

/* The value of @key in a "key value" file's text (memory.stat, cpu.stat); 0 when absent. */
uint64_t procview_kv(const char *text, const char *key);

#endif
