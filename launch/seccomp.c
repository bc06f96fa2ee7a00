/*
 * The default seccomp filter, shaped by the capabilities the container
 * ends with, as Docker's default profile is: a syscall that only a
 * capability makes useful (mount needs CAP_SYS_ADMIN, ptrace
 * CAP_SYS_PTRACE, ...) is denied with EPERM unless the container keeps
 * that capability; a few are denied always. Built with libseccomp: allow
 * by default, the denials, and without CAP_SYS_ADMIN ENOSYS for clone3 (so
 * that libc falls back to clone, whose flags the filter can see) and EPERM
 * for clone with a namespace flag. Bundles get the same rules as the OCI
 * runtime spec's linux.seccomp.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>

#include "launch/launch-int.h"

#define CAP(c) (1ULL << (c))

/*
 * Each syscall strata denies, and the capabilities any of which opens it
 * (0: none does). The table of Docker's default profile ("includes":
 * {"caps": ...}), with what it never allows.
 */
static const struct {
	const char *name;
	uint64_t opened_by;
} rules[] = {
	/* CAP_SYS_ADMIN: mounts, namespaces, quotas, fanotify */
	{ "mount", CAP(CAP_SYS_ADMIN) },
	{ "umount", CAP(CAP_SYS_ADMIN) },
	{ "umount2", CAP(CAP_SYS_ADMIN) },
	{ "fsopen", CAP(CAP_SYS_ADMIN) },
	{ "fsconfig", CAP(CAP_SYS_ADMIN) },
	{ "fsmount", CAP(CAP_SYS_ADMIN) },
	{ "fspick", CAP(CAP_SYS_ADMIN) },
	{ "move_mount", CAP(CAP_SYS_ADMIN) },
	{ "open_tree", CAP(CAP_SYS_ADMIN) },
	{ "mount_setattr", CAP(CAP_SYS_ADMIN) },
	{ "pivot_root", CAP(CAP_SYS_ADMIN) },
	{ "unshare", CAP(CAP_SYS_ADMIN) },
	{ "setns", CAP(CAP_SYS_ADMIN) },
	{ "lookup_dcookie", CAP(CAP_SYS_ADMIN) },
	{ "quotactl", CAP(CAP_SYS_ADMIN) },
	{ "quotactl_fd", CAP(CAP_SYS_ADMIN) },
	{ "fanotify_init", CAP(CAP_SYS_ADMIN) },
	{ "name_to_handle_at", CAP(CAP_SYS_ADMIN) },
	{ "bpf", CAP(CAP_SYS_ADMIN) | CAP(CAP_BPF) },
	{ "perf_event_open", CAP(CAP_SYS_ADMIN) | CAP(CAP_PERFMON) },
	{ "syslog", CAP(CAP_SYS_ADMIN) | CAP(CAP_SYSLOG) },
	{ "open_by_handle_at", CAP(CAP_DAC_READ_SEARCH) },
	{ "reboot", CAP(CAP_SYS_BOOT) },
	{ "init_module", CAP(CAP_SYS_MODULE) },
	{ "finit_module", CAP(CAP_SYS_MODULE) },
	{ "delete_module", CAP(CAP_SYS_MODULE) },
	{ "acct", CAP(CAP_SYS_PACCT) },
	{ "ptrace", CAP(CAP_SYS_PTRACE) },
	{ "process_vm_readv", CAP(CAP_SYS_PTRACE) },
	{ "process_vm_writev", CAP(CAP_SYS_PTRACE) },
	{ "process_madvise", CAP(CAP_SYS_PTRACE) },
	{ "pidfd_getfd", CAP(CAP_SYS_PTRACE) },
	{ "kcmp", CAP(CAP_SYS_PTRACE) },
	{ "iopl", CAP(CAP_SYS_RAWIO) },
	{ "ioperm", CAP(CAP_SYS_RAWIO) },
	{ "settimeofday", CAP(CAP_SYS_TIME) },
	{ "stime", CAP(CAP_SYS_TIME) },
	{ "clock_settime", CAP(CAP_SYS_TIME) },
	{ "clock_settime64", CAP(CAP_SYS_TIME) },
	{ "clock_adjtime", CAP(CAP_SYS_TIME) },
	{ "clock_adjtime64", CAP(CAP_SYS_TIME) },
	{ "vhangup", CAP(CAP_SYS_TTY_CONFIG) },
	{ "mbind", CAP(CAP_SYS_NICE) },
	{ "set_mempolicy", CAP(CAP_SYS_NICE) },
	{ "get_mempolicy", CAP(CAP_SYS_NICE) },
	{ "set_mempolicy_home_node", CAP(CAP_SYS_NICE) },
	{ "move_pages", CAP(CAP_SYS_NICE) },
	/* never: the host's kernel, keyrings, obsolete and legacy interfaces */
	{ "kexec_load", 0 },
	{ "kexec_file_load", 0 },
	{ "create_module", 0 },
	{ "get_kernel_syms", 0 },
	{ "query_module", 0 },
	{ "add_key", 0 },
	{ "keyctl", 0 },
	{ "request_key", 0 },
	{ "swapon", 0 },
	{ "swapoff", 0 },
	{ "nfsservctl", 0 },
	{ "sysfs", 0 },
	{ "_sysctl", 0 },
	{ "uselib", 0 },
	{ "userfaultfd", 0 },
	{ "ustat", 0 },
	{ "vm86", 0 },
	{ "vm86old", 0 },
};

static const int ns_flags[] = { CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
				CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP };

char **launch_seccomp_denied(uint64_t caps)
{
	char **v = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (!(rules[i].opened_by & caps))
			strv_append(&v, rules[i].name);
	return v;
}

bool launch_seccomp_limits_clone(uint64_t caps)
{
	return !(caps & CAP(CAP_SYS_ADMIN));
}

json_t *launch_seccomp_oci(uint64_t caps)
{
	cleanup_strv char **denied = launch_seccomp_denied(caps);
	json_t *calls = json_array();

	json_array_append_new(calls, json_pack("{s:o, s:s, s:i}", "names", jv_strv(denied), "action",
					       "SCMP_ACT_ERRNO", "errnoRet", EPERM));
	if (launch_seccomp_limits_clone(caps)) {
		json_array_append_new(calls, json_pack("{s:[s], s:s, s:i}", "names", "clone3",
						       "action", "SCMP_ACT_ERRNO", "errnoRet",
						       ENOSYS));
		for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++)
			json_array_append_new(
				calls, json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}",
						 "names", "clone", "action", "SCMP_ACT_ERRNO",
						 "errnoRet", EPERM, "args", "index", 0, "value",
						 (json_int_t)ns_flags[i], "valueTwo",
						 (json_int_t)ns_flags[i], "op", "SCMP_CMP_MASKED_EQ"));
	}
	return json_pack("{s:s, s:[s,s,s], s:o}", "defaultAction", "SCMP_ACT_ALLOW",
			 "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
			 "syscalls", calls);
}

int launch_seccomp_load(uint64_t caps, struct strata_error **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return strata_fail_msg(err, ENOMEM, "seccomp: cannot make a filter");
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		int nr;

		if (rules[i].opened_by & caps)
			continue;
		nr = seccomp_syscall_resolve_name(rules[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture, or unknown to this libseccomp */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0 && r != -EEXIST)
			goto fail;
	}
	if (launch_seccomp_limits_clone(caps)) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
		for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(ns_flags); i++)
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
	return strata_fail(err, -r, "seccomp: cannot load the filter");
}
