/*
 * Capabilities and the default seccomp filter. The capability sets are set
 * with capset(2) directly (no libcap); the filter is built with libseccomp:
 * allow by default, EPERM for what Docker's default profile denies to an
 * unprivileged container, ENOSYS for clone3 (so that libc falls back to
 * clone, whose namespace flags the filter can see) and EPERM for clone
 * with any namespace flag.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch/launch-int.h"

static const char *const cap_names[] = {
	"CAP_CHOWN",	      "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID",	      "CAP_KILL",	    "CAP_SETGID",	   "CAP_SETUID",
	"CAP_SETPCAP",	      "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",      "CAP_NET_RAW",	    "CAP_IPC_LOCK",	   "CAP_IPC_OWNER",
	"CAP_SYS_MODULE",     "CAP_SYS_RAWIO",	    "CAP_SYS_CHROOT",	   "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",      "CAP_SYS_ADMIN",	    "CAP_SYS_BOOT",	   "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",   "CAP_SYS_TIME",	    "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
	"CAP_LEASE",	      "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",	    "CAP_SYSLOG",	   "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",	    "CAP_PERFMON",	   "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};

const char *const launch_default_caps[] = {
	"CAP_CHOWN",	"CAP_DAC_OVERRIDE", "CAP_FSETID",	    "CAP_FOWNER",
	"CAP_MKNOD",	"CAP_NET_RAW",	    "CAP_SETGID",	    "CAP_SETUID",
	"CAP_SETFCAP",	"CAP_SETPCAP",	    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	"CAP_KILL",	"CAP_AUDIT_WRITE",  NULL,
};

const char *const seccomp_denied[] = {
	"acct",		   "add_key",	       "bpf",		   "clock_adjtime",
	"clock_settime",   "create_module",    "delete_module",	   "finit_module",
	"get_kernel_syms", "init_module",      "ioperm",	   "iopl",
	"kcmp",		   "kexec_file_load",  "kexec_load",	   "keyctl",
	"lookup_dcookie",  "mount",	       "move_pages",	   "name_to_handle_at",
	"nfsservctl",	   "open_by_handle_at", "perf_event_open", "pivot_root",
	"process_vm_readv", "process_vm_writev", "query_module",   "quotactl",
	"reboot",	   "request_key",      "setns",		   "settimeofday",
	"stime",	   "swapon",	       "swapoff",	   "sysfs",
	"_sysctl",	   "umount",	       "umount2",	   "unshare",
	"uselib",	   "userfaultfd",      "ustat",		   "vm86",
	"vm86old",	   "fsopen",	       "fsconfig",	   "fsmount",
	"fspick",	   "move_mount",       "open_tree",	   "mount_setattr",
	NULL,
};

int caps_from_name(const char *name)
{
	cleanup_free char *full = NULL;

	if (strncasecmp(name, "CAP_", 4))
		full = xasprintf("CAP_%s", name);
	else
		full = xstrdup(name);
	for (char *p = full; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (!strcmp(cap_names[i], full))
			return (int)i;
	return -1;
}

const char *caps_name(int cap)
{
	return cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int caps_mask(char *const *add, char *const *drop, uint64_t *mask, struct strata_error **err)
{
	uint64_t m = 0;

	for (size_t i = 0; launch_default_caps[i]; i++)
		m |= 1ULL << caps_from_name(launch_default_caps[i]);
	for (size_t i = 0; add && add[i]; i++) {
		int c = caps_from_name(add[i]);

		if (!strcasecmp(add[i], "ALL")) {
			m = (1ULL << ARRAY_SIZE(cap_names)) - 1;
			continue;
		}
		if (c < 0)
			return strata_fail_msg(err, EINVAL, "unknown capability '%s'", add[i]);
		m |= 1ULL << c;
	}
	for (size_t i = 0; drop && drop[i]; i++) {
		int c = caps_from_name(drop[i]);

		if (!strcasecmp(drop[i], "ALL")) {
			m = 0;
			continue;
		}
		if (c < 0)
			return strata_fail_msg(err, EINVAL, "unknown capability '%s'", drop[i]);
		m &= ~(1ULL << c);
	}
	*mask = m;
	return 0;
}

static int last_cap(void)
{
	cleanup_free char *s = NULL;
	size_t len;

	if (file_read_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &s, &len, NULL) < 0)
		return CAP_LAST_CAP;
	return atoi(s);
}

int caps_drop_bounding(uint64_t mask, struct strata_error **err)
{
	int last = last_cap();

	for (int c = 0; c <= last; c++)
		if (!(mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return strata_fail(err, errno, "drop capability %d from the bounding set", c);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

int caps_apply(uint64_t mask, struct strata_error **err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data) < 0)
		return strata_fail(err, errno, "capget");
	/* Only lower: a non-root user has nothing left after setuid, and keeps nothing. */
	data[0].effective &= (uint32_t)mask;
	data[0].permitted &= (uint32_t)mask;
	data[0].inheritable &= (uint32_t)mask;
	data[1].effective &= (uint32_t)(mask >> 32);
	data[1].permitted &= (uint32_t)(mask >> 32);
	data[1].inheritable &= (uint32_t)(mask >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return strata_fail(err, errno, "capset");
	return 0;
}

int seccomp_load_default(struct strata_error **err)
{
	static const int ns_flags[] = { CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
					CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return strata_fail_msg(err, ENOMEM, "seccomp: cannot make a filter");
	for (size_t i = 0; seccomp_denied[i]; i++) {
		int nr = seccomp_syscall_resolve_name(seccomp_denied[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EEXIST)
			goto fail;
	}
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, (scmp_datum_t)ns_flags[i],
					     (scmp_datum_t)ns_flags[i]));
		if (r < 0)
			goto fail;
	}
	r = seccomp_load(ctx);
	if (r < 0)
		goto fail;
	seccomp_release(ctx);
	return 0;
fail:
	seccomp_release(ctx);
	return strata_fail(err, -r, "seccomp: cannot load the default filter");
}
