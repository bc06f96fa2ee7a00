/*
 * `run --init`: PID 1 of the container is launch/init/main.c, a static
 * program linked into strata's binary. It is written into a sealed memfd
 * and executed from there (execveat AT_EMPTY_PATH): the container gets a
 * new process image, with argv `init -- CMD ARGS` and the container's
 * environment only, never strata's command line, environment or memory,
 * and /proc/1/exe names a read-only copy of the init, not strata's binary
 * on the host. It needs no file in the rootfs and no path on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch-int.h"

#ifndef STRATA_INIT_BIN
#error "STRATA_INIT_BIN: the path of the static init program (see the Makefile)"
#endif

/* The init program's bytes, between launch_init_blob and launch_init_blob_end. */
__asm__(".section .rodata.strata_init,\"a\",@progbits\n"
	".balign 16\n"
	".globl launch_init_blob\n"
	".hidden launch_init_blob\n"
	"launch_init_blob:\n"
	".incbin \"" STRATA_INIT_BIN "\"\n"
	".globl launch_init_blob_end\n"
	".hidden launch_init_blob_end\n"
	"launch_init_blob_end:\n"
	".previous\n");

extern const unsigned char launch_init_blob[];
extern const unsigned char launch_init_blob_end[];

/* The fd on which the init finds the launcher's error pipe (launch/init/main.c). */
#define INIT_ERR_FD 3

/* memfd_create's flag for an executable memfd (Linux 6.3), where vm.memfd_noexec asks for it. */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int launch_init_open(struct strata_error **err)
{
	const unsigned char *p = launch_init_blob;
	size_t left = (size_t)(launch_init_blob_end - launch_init_blob);
	cleanup_close int fd = memfd_create("init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	if (fd < 0 && errno == EINVAL) /* a kernel before 6.3: memfds are executable */
		fd = memfd_create("init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return strata_fail(err, errno, "create the init's memfd");
	if (fd <= INIT_ERR_FD) {
		/* fd 3 is where the init will find the error pipe */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, INIT_ERR_FD + 1);

		if (high < 0)
			return strata_fail(err, errno, "move the init's memfd");
		close(fd);
		fd = high;
	}
	while (left > 0) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return strata_fail(err, n < 0 ? errno : EIO, "write the init");
		p += n;
		left -= (size_t)n;
	}
	/* Sealed: no process of the container can change what PID 1 runs. */
	if (fchmod(fd, 0555) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return strata_fail(err, errno, "seal the init");
	return steal_fd(&fd);
}

int launch_init_exec(int init_fd, char *const *argv, char *const *env, int err_fd,
		     struct strata_error **err)
{
	size_t n = 0;
	cleanup_free char **args = NULL;

	while (argv[n])
		n++;
	args = xcalloc(n + 3, sizeof(*args));
	args[0] = (char *)"init";
	args[1] = (char *)"--";
	for (size_t i = 0; i < n; i++)
		args[i + 2] = argv[i];
	/* dup2 clears close-on-exec on the copy: the init inherits fd 3 alone. */
	if (err_fd == INIT_ERR_FD) {
		if (fcntl(err_fd, F_SETFD, 0) < 0)
			return strata_fail(err, errno, "pass the error pipe to the init");
	} else if (dup2(err_fd, INIT_ERR_FD) < 0) {
		return strata_fail(err, errno, "pass the error pipe to the init");
	}
	fexecve(init_fd, args, (char *const *)env);
	return strata_fail(err, errno, "exec the init");
}
