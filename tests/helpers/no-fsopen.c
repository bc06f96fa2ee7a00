/*
 * no-fsopen COMMAND [ARG...]: runs COMMAND with fsopen(2) failing with
 * ENOSYS, as on a kernel without the new mount API, so that the mount(2)
 * fallbacks run for real (crun's tests/no_openat2.c does the same for
 * openat2).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;

	if (argc < 2) {
		fprintf(stderr, "usage: no-fsopen COMMAND [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(fsopen), 0) < 0 ||
	    seccomp_load(ctx) < 0) {
		fprintf(stderr, "no-fsopen: cannot load the seccomp filter\n");
		return 2;
	}
	seccomp_release(ctx);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-fsopen: exec '%s' failed\n", argv[1]);
	return 127;
}
