/*
 * ADD of a git repository ("https://host/repo.git#ref:subdir", "git@host:
 * repo.git", "git://", "ssh://", "file:///srv/repo.git"), as the
 * dockerfile frontend reads the URL: cloned with the git program into
 * ROOT/tmp (so that gc removes what a crash leaves), the ref (a branch,
 * a tag or a commit; default HEAD) checked out detached, .git dropped
 * unless --keep-git-dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "recipe/recipe-int.h"

bool recipe_git_is_url(const char *s)
{
	const char *q = s + strcspn(s, "?#");
	cleanup_free char *base = xstrndup(s, (size_t)(q - s));

	if (str_has_prefix(s, "git@") || str_has_prefix(s, "git://") ||
	    str_has_prefix(s, "ssh://"))
		return true;
	return (str_has_prefix(s, "http://") || str_has_prefix(s, "https://") ||
		str_has_prefix(s, "file://")) &&
	       (str_has_suffix(base, ".git") || str_has_suffix(base, ".git/"));
}

/*
 * Runs git with @argv (argv[0] "git") in @cwd (may be NULL), its stdout
 * into *out when @out is not NULL; its stderr's "fatal:" line (else its
 * last line) makes the error.
 */
static int run_git(const char *const *argv, const char *cwd, char **out, struct strata_error **err)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	struct sbuf o = SBUF_INIT, e = SBUF_INIT;
	int status = 0;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		if (po[0] >= 0) {
			close(po[0]);
			close(po[1]);
		}
		return strata_fail(err, errno, "pipe");
	}
	pid = fork();
	if (pid < 0) {
		strata_fail(err, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(po[1], 1) < 0 ||
		    dup2(pe[1], 2) < 0 || (cwd && chdir(cwd) < 0))
			_exit(127);
		/* never a prompt: a build is not interactive */
		setenv("GIT_TERMINAL_PROMPT", "0", 1);
		setenv("GIT_ASKPASS", "true", 1);
		setenv("LC_ALL", "C", 1);
		execvp("git", (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	for (int *fd = (int[]){ po[0], pe[0] }, k = 0; k < 2; k++) {
		char buf[4096];
		ssize_t n;

		/* git writes little: its stdout, then its stderr, each read whole */
		while ((n = read(fd[k], buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			if (n > 0)
				sbuf_add(k ? &e : &o, buf, (size_t)n);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char *msg;
		size_t len;

		sbuf_add(&e, "", 1);
		msg = e.buf;
		len = strlen(msg);
		while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
			msg[--len] = '\0';
		/* git's "fatal:" line says what went wrong; else its last line */
		if (strstr(msg, "fatal: ")) {
			msg = strstr(msg, "fatal: ");
			msg[strcspn(msg, "\n")] = '\0';
		} else if (strrchr(msg, '\n')) {
			msg = strrchr(msg, '\n') + 1;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !*msg)
			strata_fail_msg(err, ENOENT, "cannot run the git program (is it installed?)");
		else
			strata_fail_msg(err, EIO, "git %s: %s", argv[1], *msg ? msg : "failed");
		goto out;
	}
	if (out)
		*out = sbuf_detach(&o, NULL);
	sbuf_release(&o);
	sbuf_release(&e);
	close(po[0]);
	close(pe[0]);
	return 0;
out:
	sbuf_release(&o);
	sbuf_release(&e);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	return -1;
}

int recipe_git_fetch(struct store *s, const char *url, bool keep_git_dir, char **tmp_name,
		     int *dirfd, char commit[41], struct strata_error **err)
{
	const char *hash = strchr(url, '#');
	cleanup_free char *repo = xstrndup(url, hash ? (size_t)(hash - url) : strlen(url));
	cleanup_free char *ref = NULL;
	cleanup_free char *sub = NULL;
	cleanup_free char *dir = NULL;
	cleanup_free char *head = NULL;
	cleanup_close int tfd = -1;

	*tmp_name = NULL;
	*dirfd = -1;
	if (hash) {
		const char *colon = strchr(hash + 1, ':');

		ref = xstrndup(hash + 1, colon ? (size_t)(colon - hash - 1) : strlen(hash + 1));
		if (colon && colon[1])
			sub = path_clean(colon + 1);
	}
	if (ref && (ref[0] == '-' || strpbrk(ref, " \t\n")))
		return strata_fail_msg(err, EINVAL, "git ref '%s' is not valid", ref);
	if (repo[0] == '-')
		return strata_fail_msg(err, EINVAL, "git URL '%s' is not valid", url);
	tfd = store_tmp_mkdir(s, ".git-src", 0700, tmp_name, err);
	if (tfd < 0)
		return -1;
	dir = xasprintf("%s/tmp/%s/repo", store_root(s), *tmp_name);
	{
		const char *clone[] = { "git", "clone", "--quiet", "--no-checkout", "--", repo, dir, NULL };
		const char *checkout[] = { "git", "-c", "advice.detachedHead=false", "checkout", "--quiet",
				     "--detach", ref && *ref ? ref : "HEAD", "--", NULL };
		const char *rev[] = { "git", "rev-parse", "HEAD", NULL };

		if (run_git(clone, NULL, NULL, err) < 0 || run_git(checkout, dir, NULL, err) < 0 ||
		    run_git(rev, dir, &head, err) < 0)
			return strata_wrap(err, "git source '%s'", url);
	}
	if (strlen(head) < 40)
		return strata_fail_msg(err, EIO, "git source '%s': no commit", url);
	memcpy(commit, head, 40);
	commit[40] = '\0';
	if (!keep_git_dir) {
		cleanup_close int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (rfd < 0 || path_rm_rf_at(rfd, ".git", err) < 0)
			return strata_fail(err, errno, "git source '%s'", url);
	}
	{
		cleanup_close int rfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (rfd < 0)
			return strata_fail(err, errno, "open '%s'", dir);
		/* the subdir resolved inside the checkout, never out of it */
		*dirfd = sub && *sub ? path_open_in(rfd, sub, O_RDONLY | O_DIRECTORY, 0, err)
				     : fcntl(rfd, F_DUPFD_CLOEXEC, 3);
		if (*dirfd < 0)
			return strata_wrap(err, "git source '%s': subdir '%s'", url, sub);
	}
	return 0;
}
