/*
 * ADD's URL sources: downloaded with libcurl into ROOT/tmp (so that a
 * crash leaves nothing gc would not remove), hashed while they stream.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "recipe/recipe-int.h"
#include "registry/registry.h"

struct sink {
	int fd;
	struct digester *d;
	int error; /* errno of a failed write */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	size_t n = size * nmemb;

	if (file_write_all(k->fd, ptr, n, NULL) < 0) {
		k->error = errno ? errno : EIO;
		return 0;
	}
	digester_update(k->d, ptr, n);
	return n;
}

int recipe_fetch(struct store *s, const char *url, char **path, char digest[DIGEST_STR_LEN],
		 struct strata_error **err)
{
	cleanup_free char *full = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct sink k = { -1, NULL, 0 };
	CURL *c;
	CURLcode rc;

	if (registry_http_load(err) < 0)
		return strata_wrap(err, "download '%s'", url);
	k.fd = store_tmp_create(s, ".download", &full, err);
	if (k.fd < 0)
		return strata_wrap(err, "download '%s'", url);
	k.d = digester_new();
	c = curl_easy_init();
	if (!c) {
		close(k.fd);
		unlink(full);
		digester_free(k.d);
		return strata_fail_msg(err, ENOMEM, "download '%s': cannot start libcurl", url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A transfer slower than 1 KB/s for a minute is abandoned rather than hanging the build. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "strata/" STRATA_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK && fsync(k.fd) < 0)
		k.error = errno;
	close(k.fd);
	if (rc != CURLE_OK || k.error) {
		unlink(full);
		digester_free(k.d);
		if (k.error)
			return strata_fail(err, k.error, "download '%s'", url);
		return strata_fail_msg(err, EIO, "download '%s': %s", url,
				       errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	digester_final(k.d, digest);
	digester_free(k.d);
	*path = steal_ptr(&full);
	return 0;
}
