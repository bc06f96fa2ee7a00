/*
 * ptrace-probe: what a process may do to its own child with ptrace(2)
 * (PTRACE_ATTACH) and process_vm_readv(2). Prints "ptrace: ok" or
 * "ptrace: ERROR", then the same for process_vm_readv. Linked statically,
 * so that a test can bind it into any container's rootfs and run it there.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char word[8] = "probe";

int main(void)
{
	char buf[sizeof(word)];
	struct iovec local = { buf, sizeof(buf) }, remote = { word, sizeof(word) };
	pid_t child = fork();
	long r;
	ssize_t n;

	if (child < 0) {
		perror("fork");
		return 2;
	}
	if (child == 0) {
		pause();
		_exit(0);
	}
	r = ptrace(PTRACE_ATTACH, child, NULL, NULL);
	printf("ptrace: %s\n", r == 0 ? "ok" : strerror(errno));
	if (r == 0) {
		waitpid(child, NULL, __WALL);
		ptrace(PTRACE_DETACH, child, NULL, NULL);
	}
	n = process_vm_readv(child, &local, 1, &remote, 1, 0);
	printf("process_vm_readv: %s\n",
	       n == (ssize_t)sizeof(buf) ? (memcmp(buf, word, sizeof(buf)) ? "wrong bytes" : "ok")
					 : strerror(errno));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}
