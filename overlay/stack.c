/*
 * The lower dirs of an image: its layer dirs, top first, made on demand
 * by layers/ and shared by every image with the same chain.
 *
 * overlayfs takes at most 500 lowers (fewer with mount(2), whose options
 * must fit in a page; aufs is usually built for 127 branches). A deeper
 * image is mounted by flattening its lowest layers into one snapshot
 * dir: their blobs applied in order into one tree, vfs style, named by
 * the chain ID of the highest layer it holds. That is exactly what the
 * vfs backend's layer dir of that chain is, so it lives in
 * ROOT/layers/vfs/<chain-hex>/ and is shared with vfs, kept by gc while
 * an image reaches the chain, and found again by the next mount. The
 * number of flattened layers is rounded up to FLATTEN_STEP so that an
 * image that grows by a commit at a time reuses the same snapshot.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

char *overlay_stack_empty_dir(struct store *s, const char *backend, struct strata_error **err)
{
	int fd = store_layers_open(s, backend, "empty", true, err);

	if (fd < 0)
		return NULL;
	close(fd);
	return store_layers_path(s, backend, "empty");
}

static char **single(char *p)
{
	char **v = xcalloc(2, sizeof(char *));

	v[0] = p;
	return v;
}

int overlay_stack_all_layers(struct store *s, const char *backend, const struct store_image *img,
		     char ***out, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	char **v;
	size_t n = img ? img->n_layers : 0;

	if (n == 0) {
		char *e = overlay_stack_empty_dir(s, backend, err);

		if (!e)
			return -1;
		*out = single(e);
		return 0;
	}
	if (layers_dir_ensure(s, backend, img, n, err) < 0)
		return -1;
	chains = store_image_chain_ids(img);
	v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		v[i] = layers_dir_path(s, backend, chains[n - 1 - i]);
	*out = v;
	return 0;
}

/* Makes ROOT/layers/vfs/<chain k-1> by applying the bottom @k blobs of @img in order. */
static int flatten(struct store *s, const struct store_image *img, char *const *chains, size_t k,
		   struct strata_error **err)
{
	struct layers_dir_record rec = { chains[k - 1], k > 1 ? chains[k - 2] : NULL,
					 img->diff_ids[k - 1], img->manifest->layers[k - 1].digest,
					 0 };
	struct layers_stage *st = NULL;
	int ret = -1;

	if (layers_stage_new(s, "vfs", &st, err) < 0)
		return strata_wrap(err, "stage a flattened snapshot");
	log_info("flattening the lowest %zu layers into one snapshot", k);
	for (size_t i = 0; i < k; i++) {
		const struct store_desc *d = &img->manifest->layers[i];
		struct layers_unpack_stats us;
		cleanup_close int bfd = store_blob_open(s, d->digest, err);

		if (bfd < 0 || layers_unpack(bfd, layers_stage_diff_fd(st), LAYERS_WHITEOUT_VFS, NULL,
					     &us, err) < 0) {
			strata_wrap(err, "flatten layer %zu", i + 1);
			goto out;
		}
		if (strcmp(us.diff_id, img->diff_ids[i]) != 0) {
			strata_fail_msg(err, EBADMSG, "layer %zu has diffID %s, the config says %s",
					i + 1, us.diff_id, img->diff_ids[i]);
			goto out;
		}
		rec.size += us.bytes;
	}
	ret = layers_stage_publish(st, &rec, err);
out:
	layers_stage_free(st);
	return ret;
}

int overlay_stack_lowers(struct store *s, const char *backend, const struct store_image *img, size_t max,
		 char ***out, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	size_t n = img ? img->n_layers : 0;
	size_t need, k = 0;
	char **v;

	if (n <= max || max < 2)
		return overlay_stack_all_layers(s, backend, img, out, err);
	chains = store_image_chain_ids(img);
	/* max - 1 layers stay as they are; the rest become one snapshot. */
	need = n - (max - 1);
	/* The deepest snapshot already made that is deep enough. */
	for (size_t j = n; j >= need && j > 0; j--) {
		if (layers_dir_valid(s, "vfs", chains[j - 1])) {
			k = j;
			break;
		}
	}
	if (!k) {
		k = (need + FLATTEN_STEP - 1) / FLATTEN_STEP * FLATTEN_STEP;
		if (k > n)
			k = n;
		if (flatten(s, img, chains, k, err) < 0)
			return -1;
	}
	for (size_t i = k; i < n; i++) {
		if (layers_dir_unpack(s, backend, chains[i], i ? chains[i - 1] : NULL,
				      img->diff_ids[i], &img->manifest->layers[i], err) < 0)
			return -1;
	}
	v = xcalloc(n - k + 2, sizeof(char *));
	for (size_t i = 0; i < n - k; i++)
		v[i] = layers_dir_path(s, backend, chains[n - 1 - i]);
	v[n - k] = layers_dir_path(s, "vfs", chains[k - 1]);
	*out = v;
	return 0;
}

char *overlay_stack_vfs_top(struct store *s, const struct store_image *img, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	size_t n = img ? img->n_layers : 0;

	if (n == 0)
		return overlay_stack_empty_dir(s, "vfs", err);
	if (layers_dir_ensure(s, "vfs", img, n, err) < 0)
		return NULL;
	chains = store_image_chain_ids(img);
	return layers_dir_path(s, "vfs", chains[n - 1]);
}
