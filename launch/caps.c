/*
 * Capabilities: names, the container's set, and applying it with capset(2)
 * directly (no libcap).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
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

int launch_caps_from_name(const char *name)
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

const char *launch_caps_name(int cap)
{
	return cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int launch_caps_mask(char *const *add, char *const *drop, uint64_t *mask,
		     struct strata_error **err)
{
	uint64_t m = 0;

	for (size_t i = 0; launch_default_caps[i]; i++)
		m |= 1ULL << launch_caps_from_name(launch_default_caps[i]);
	for (size_t i = 0; add && add[i]; i++) {
		int c = launch_caps_from_name(add[i]);

		if (!strcasecmp(add[i], "ALL")) {
			m = (1ULL << ARRAY_SIZE(cap_names)) - 1;
			continue;
		}
		if (c < 0)
			return strata_fail_msg(err, EINVAL, "unknown capability '%s'", add[i]);
		m |= 1ULL << c;
	}
	for (size_t i = 0; drop && drop[i]; i++) {
		int c = launch_caps_from_name(drop[i]);

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

int launch_caps_drop_bounding(uint64_t mask, struct strata_error **err)
{
	int last = last_cap();

	for (int c = 0; c <= last; c++)
		if (!(mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return strata_fail(err, errno, "drop capability %d from the bounding set", c);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

int launch_caps_apply(uint64_t mask, struct strata_error **err)
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
