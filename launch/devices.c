/*
 * The device policy of a container: deny every device, allow the OCI
 * runtime spec's default set (null, zero, full, random, urandom, tty,
 * console, ptmx, the devpts slaves) and what --device gives. As runc and
 * crun, mknod itself is allowed for any character or block device ("m"):
 * a node made that way cannot be opened unless the policy allows it.
 *
 * cgroup v1 enforces it with devices.deny "a" then one devices.allow line
 * per rule. cgroup v2 has no control file for it: a
 * BPF_PROG_TYPE_CGROUP_DEVICE program, attached to the container's cgroup,
 * answers 1 (allow) or 0 for each access (Documentation/admin-guide/
 * cgroup-v2.rst, "Device controller"). The program is built here from the
 * rules with the kernel's BPF instruction encoding; nothing is compiled
 * at run time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "launch/launch-int.h"

#define RWM (LAUNCH_DEV_MKNOD | LAUNCH_DEV_READ | LAUNCH_DEV_WRITE)

/* The OCI runtime spec's default devices ("Default Devices"), as runc allows them. */
static const struct launch_device_rule default_rules[] = {
	{ 'c', -1, -1, LAUNCH_DEV_MKNOD }, /* mknod of any device; opening it is another rule */
	{ 'b', -1, -1, LAUNCH_DEV_MKNOD },
	{ 'c', 1, 3, RWM },		   /* null */
	{ 'c', 1, 5, RWM },		   /* zero */
	{ 'c', 1, 7, RWM },		   /* full */
	{ 'c', 1, 8, RWM },		   /* random */
	{ 'c', 1, 9, RWM },		   /* urandom */
	{ 'c', 5, 0, RWM },		   /* tty */
	{ 'c', 5, 1, RWM },		   /* console */
	{ 'c', 5, 2, RWM },		   /* ptmx */
	{ 'c', 136, -1, RWM },		   /* pts/N */
};

int launch_device_access_parse(const char *s, unsigned *access)
{
	unsigned a = 0;

	for (const char *p = s; *p; p++) {
		unsigned bit = *p == 'r' ? LAUNCH_DEV_READ
			       : *p == 'w' ? LAUNCH_DEV_WRITE
			       : *p == 'm' ? LAUNCH_DEV_MKNOD
					   : 0;

		if (!bit || (a & bit))
			return -1;
		a |= bit;
	}
	if (!a)
		return -1;
	*access = a;
	return 0;
}

int launch_device_parse(const char *arg, struct launch_device *dev, struct strata_error **err)
{
	cleanup_free char *copy = xstrdup(arg);
	char *parts[3] = { copy, NULL, NULL };
	unsigned access = RWM;
	const char *dst;
	int n = 1;

	for (char *p = copy; *p && n < 3; p++)
		if (*p == ':') {
			*p = '\0';
			parts[n++] = p + 1;
		}
	if (strchr(parts[n - 1], ':'))
		return strata_fail_msg(err, EINVAL, "invalid device '%s' (want HOST[:CONTAINER][:rwm])",
				       arg);
	/* HOST:rwm when the second part is no path */
	if (n == 2 && parts[1][0] != '/') {
		parts[2] = parts[1];
		parts[1] = NULL;
	}
	if (parts[2] && launch_device_access_parse(parts[2], &access) < 0)
		return strata_fail_msg(err, EINVAL, "invalid device access '%s' (want r, w, m or a mix)",
				       parts[2]);
	dst = parts[1] ? parts[1] : parts[0];
	if (parts[0][0] != '/' || dst[0] != '/')
		return strata_fail_msg(err, EINVAL, "device '%s': paths must be absolute", arg);
	dev->source = xstrdup(parts[0]);
	dev->destination = xstrdup(dst);
	dev->access = access;
	return 0;
}

char *launch_device_access_string(unsigned access)
{
	return xasprintf("%s%s%s", access & LAUNCH_DEV_READ ? "r" : "",
			 access & LAUNCH_DEV_WRITE ? "w" : "", access & LAUNCH_DEV_MKNOD ? "m" : "");
}

int launch_device_rules(const struct launch_device *devs, size_t n_devs,
			struct launch_device_rule **out, size_t *n_out, struct strata_error **err)
{
	size_t n = ARRAY_SIZE(default_rules);
	struct launch_device_rule *r = xcalloc(n + n_devs, sizeof(*r));

	memcpy(r, default_rules, sizeof(default_rules));
	for (size_t i = 0; i < n_devs; i++) {
		struct stat st;

		if (stat(devs[i].source, &st) < 0) {
			free(r);
			return strata_fail(err, errno, "device '%s'", devs[i].source);
		}
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
			free(r);
			return strata_fail_msg(err, EINVAL, "device '%s' is not a device node",
					       devs[i].source);
		}
		r[n++] = (struct launch_device_rule){ S_ISCHR(st.st_mode) ? 'c' : 'b',
						      major(st.st_rdev), minor(st.st_rdev),
						      devs[i].access };
	}
	*out = r;
	*n_out = n;
	return 0;
}

char *launch_device_rule_string(const struct launch_device_rule *r)
{
	cleanup_free char *acc = launch_device_access_string(r->access);
	char maj[24] = "*", min[24] = "*";

	if (r->major >= 0)
		snprintf(maj, sizeof(maj), "%lld", (long long)r->major);
	if (r->minor >= 0)
		snprintf(min, sizeof(min), "%lld", (long long)r->minor);
	return xasprintf("%c %s:%s %s", r->type, maj, min, acc);
}

int launch_device_v1_write(const char *dir, const struct launch_device_rule *rules, size_t n,
			   struct strata_error **err)
{
	cleanup_free char *deny = path_join(dir, "devices.deny");
	cleanup_free char *allow = path_join(dir, "devices.allow");
	/* O_CREAT as cgroup.c's writes: a fake tree in a plain directory (tests) takes the lines too */
	cleanup_close int dfd = open(deny, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cleanup_close int afd = -1;

	/* Each write to devices.allow takes one rule: one write(2) per line. */
	if (dfd < 0 || write(dfd, "a", 1) != 1)
		return strata_fail(err, errno, "cgroup: deny every device in %s", dir);
	afd = open(allow, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (afd < 0)
		return strata_fail(err, errno, "cgroup: open %s", allow);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *rule = launch_device_rule_string(&rules[i]);
		cleanup_free char *line = xasprintf("%s\n", rule);

		if (write(afd, line, strlen(line)) < 0)
			return strata_fail(err, errno, "cgroup: allow '%s' in %s", rule, dir);
	}
	return 0;
}

/* The kernel's instruction encoding (include/linux/filter.h has these macros; uapi does not). */
#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_W | BPF_MEM, d, s, o, 0)
#define ALU32_IMM(op, d, i) INSN(BPF_ALU | (op) | BPF_K, d, 0, 0, i)
#define MOV32_REG(d, s) INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * r1 holds the context (struct bpf_cgroup_dev_ctx). The prologue loads
 * r2 = device type, r3 = access asked, r4 = major, r5 = minor; each rule
 * is a block of tests that jump past it on a mismatch and otherwise
 * return 1; past the last block the answer is 0.
 */
struct bpf_insn *launch_device_bpf(const struct launch_device_rule *rules, size_t n, size_t *len)
{
	struct bpf_insn *p = xcalloc(6 + n * 7 + 2, sizeof(*p));
	size_t pc = 0;

	p[pc++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
	p[pc++] = MOV32_REG(BPF_REG_3, BPF_REG_2);
	p[pc++] = ALU32_IMM(BPF_AND, BPF_REG_2, 0xffff);
	p[pc++] = ALU32_IMM(BPF_RSH, BPF_REG_3, 16);
	p[pc++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
	p[pc++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
	for (size_t i = 0; i < n; i++) {
		const struct launch_device_rule *r = &rules[i];
		size_t jumps[4], nj = 0;

		if (r->type == 'c' || r->type == 'b') {
			jumps[nj++] = pc;
			p[pc++] = JNE_IMM(BPF_REG_2,
					  r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
		}
		if ((r->access & RWM) != RWM) {
			/* what is asked must be within what the rule allows */
			p[pc++] = MOV32_REG(BPF_REG_1, BPF_REG_3);
			p[pc++] = ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)(~r->access & RWM));
			jumps[nj++] = pc;
			p[pc++] = JNE_IMM(BPF_REG_1, 0, 0);
		}
		if (r->major >= 0) {
			jumps[nj++] = pc;
			p[pc++] = JNE_IMM(BPF_REG_4, (int32_t)r->major, 0);
		}
		if (r->minor >= 0) {
			jumps[nj++] = pc;
			p[pc++] = JNE_IMM(BPF_REG_5, (int32_t)r->minor, 0);
		}
		p[pc++] = MOV64_IMM(BPF_REG_0, 1);
		p[pc++] = EXIT_INSN();
		for (size_t j = 0; j < nj; j++)
			p[jumps[j]].off = (int16_t)(pc - jumps[j] - 1);
	}
	p[pc++] = MOV64_IMM(BPF_REG_0, 0);
	p[pc++] = EXIT_INSN();
	*len = pc;
	return p;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int launch_device_bpf_attach(int cgroup_fd, const struct launch_device_rule *rules, size_t n,
			     struct strata_error **err)
{
	size_t len;
	cleanup_free struct bpf_insn *prog = launch_device_bpf(rules, n, &len);
	cleanup_free char *log = xcalloc(1, 65536);
	cleanup_close int pfd = -1;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)len;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = 65536;
	attr.log_level = 1;
	pfd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (pfd < 0 && errno == ENOSPC) {
		/* the log did not fit: load again without it */
		attr.log_buf = 0;
		attr.log_size = 0;
		attr.log_level = 0;
		pfd = sys_bpf(BPF_PROG_LOAD, &attr);
	}
	if (pfd < 0)
		return strata_fail(err, errno, "cgroup: load the device policy program%s%.200s",
				   *log ? ": " : "", log);
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)pfd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	/* The cgroup holds the program from here; our fd may close. */
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return strata_fail(err, errno, "cgroup: attach the device policy program");
	return 0;
}
