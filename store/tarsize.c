/*
 * ROOT/tar-sizes/<hex>: the uncompressed (tar) size of a compressed layer
 * blob, recorded where it is known for nothing (the writer counted the tar
 * bytes it compressed; an unpack counted what it read), so that a listing
 * shows an image's size as podman does, uncompressed, without reading a
 * layer again. A record is a hint: lost or absent, the compressed size is
 * shown; gc removes it with its blob.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

#define TAR_SIZES "tar-sizes"

void store_blob_tar_size_put(struct store *s, const char *digest, uint64_t size)
{
	struct strata_error *err = NULL;
	cleanup_close int dfd = -1;
	char buf[32];
	int n;

	if (!digest_is_valid(digest))
		return;
	if (mkdirat(s->root_fd, TAR_SIZES, 0755) < 0 && errno != EEXIST)
		return;
	dfd = openat(s->root_fd, TAR_SIZES, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)size);
	if (file_write_replace_at(dfd, digest_hex(digest), buf, (size_t)n, 0644, &err) < 0) {
		log_debug("%s/%s: %s", TAR_SIZES, digest_hex(digest), strata_error_msg(err));
		strata_error_free(err);
	}
}

bool store_blob_tar_size_get(struct store *s, const char *digest, uint64_t *size)
{
	cleanup_free char *name = NULL;
	cleanup_close int fd = -1;
	char buf[32], *end = NULL;
	struct stat st;
	ssize_t n;

	if (!digest_is_valid(digest))
		return false;
	name = xasprintf(TAR_SIZES "/%s", digest_hex(digest));
	/* a hint: anything but a regular file is none (a FIFO would block the listing) */
	fd = openat(s->root_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return false;
	buf[n] = '\0';
	*size = strtoull(buf, &end, 10);
	return end != buf && *end == '\n';
}

void store_blob_tar_size_remove(struct store *s, const char *digest)
{
	cleanup_free char *name = NULL;

	if (!digest_is_valid(digest))
		return;
	name = xasprintf(TAR_SIZES "/%s", digest_hex(digest));
	unlinkat(s->root_fd, name, 0);
}

/* Layer media types whose blob is the tar itself. */
static bool is_plain_tar(const char *mt)
{
	return mt && (str_has_suffix(mt, ".tar") || !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar"));
}

uint64_t store_layer_tar_size(struct store *s, const struct store_desc *d)
{
	uint64_t n;

	if (is_plain_tar(d->media_type) || !store_blob_tar_size_get(s, d->digest, &n))
		return (uint64_t)d->size;
	return n;
}

uint64_t store_image_size_unpacked(struct store *s, const struct store_image *img)
{
	uint64_t total = (uint64_t)img->manifest->config.size;

	for (size_t i = 0; i < img->manifest->n_layers; i++)
		total += store_layer_tar_size(s, &img->manifest->layers[i]);
	return total;
}
