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

char *stack_empty_dir(struct store *s, const char *backend, struct strata_error **err)
{
	char *p = xasprintf("%s/layers/%s/empty", s->root, backend);

	if (path_mkdir_p(p, 0755, err) < 0) {
		free(p);
		return NULL;
	}
	return p;
}

static char **single(char *p)
{
	char **v = xcalloc(2, sizeof(char *));

	v[0] = p;
	return v;
}

int stack_all_layers(struct store *s, const char *backend, const struct store_image *img,
		     char ***out, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	char **v;
	size_t n = img ? img->n_layers : 0;

	if (n == 0) {
		char *e = stack_empty_dir(s, backend, err);

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

int stack_write_layer_record(int dirfd, const char *chain_id, const char *diff_id,
			     const char *parent, const char *blob, uint64_t size,
			     struct strata_error **err)
{
	cleanup_json json_t *rec = json_object();
	int64_t now = time_now_ns();
	cleanup_free char *created = time_rfc3339(now / 1000000000LL, 0);

	jv_set_str(rec, "ChainID", chain_id);
	jv_set_str(rec, "DiffID", diff_id);
	jv_set_str(rec, "Parent", parent ? parent : "");
	jv_set_str(rec, "Blob", blob);
	json_object_set_new(rec, "Size", json_integer((json_int_t)size));
	jv_set_str(rec, "Created", created);
	return jv_write_at(dirfd, "layer.json", rec, err);
}

int stack_publish_layer(struct store *s, const char *backend, const char *name,
			 const char *chain_id, struct strata_error **err)
{
	cleanup_close int bfd = -1;

	if (mkdirat(s->layers_fd, backend, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "mkdir 'layers/%s'", backend);
	bfd = openat(s->layers_fd, backend, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return strata_fail(err, errno, "open 'layers/%s'", backend);
	if (renameat(s->tmp_fd, name, bfd, digest_hex(chain_id)) < 0) {
		int e = errno;

		path_rm_rf_at(s->tmp_fd, name, NULL);
		if ((e == EEXIST || e == ENOTEMPTY) && store_layer_exists(s, backend, chain_id))
			return 0;
		return strata_fail(err, e, "move layer '%s' into place", chain_id);
	}
	return 0;
}

/* Makes ROOT/layers/vfs/<chain k-1> by applying the bottom @k blobs of @img in order. */
static int flatten(struct store *s, const struct store_image *img, char *const *chains, size_t k,
		   struct strata_error **err)
{
	cleanup_free char *name = store_tmp_name(".flat");
	cleanup_close int dfd = -1;
	cleanup_close int diff = -1;
	uint64_t bytes = 0;

	if (mkdirat(s->tmp_fd, name, 0700) < 0)
		return strata_fail(err, errno, "stage a flattened snapshot");
	dfd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, "diff", 0755) < 0 ||
	    (diff = openat(dfd, "diff", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		strata_fail(err, errno, "stage a flattened snapshot");
		goto fail;
	}
	log_info("flattening the lowest %zu layers into one snapshot", k);
	for (size_t i = 0; i < k; i++) {
		const struct store_desc *d = &img->manifest->layers[i];
		struct layers_unpack_stats st;
		cleanup_close int bfd = store_blob_open(s, d->digest, err);

		if (bfd < 0 || layers_unpack(bfd, diff, LAYERS_WHITEOUT_VFS, NULL, &st, err) < 0) {
			strata_wrap(err, "flatten layer %zu", i + 1);
			goto fail;
		}
		if (strcmp(st.diff_id, img->diff_ids[i]) != 0) {
			strata_fail_msg(err, EBADMSG, "layer %zu has diffID %s, the config says %s",
					i + 1, st.diff_id, img->diff_ids[i]);
			goto fail;
		}
		bytes += st.bytes;
	}
	if (stack_write_layer_record(dfd, chains[k - 1], img->diff_ids[k - 1],
				     k > 1 ? chains[k - 2] : NULL,
				     img->manifest->layers[k - 1].digest, bytes, err) < 0)
		goto fail;
	return stack_publish_layer(s, "vfs", name, chains[k - 1], err);
fail:
	path_rm_rf_at(s->tmp_fd, name, NULL);
	return -1;
}

int stack_lowers(struct store *s, const char *backend, const struct store_image *img, size_t max,
		 char ***out, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	size_t n = img ? img->n_layers : 0;
	size_t need, k = 0;
	char **v;

	if (n <= max || max < 2)
		return stack_all_layers(s, backend, img, out, err);
	chains = store_image_chain_ids(img);
	/* max - 1 layers stay as they are; the rest become one snapshot. */
	need = n - (max - 1);
	/* The deepest snapshot already made that is deep enough. */
	for (size_t j = n; j >= need && j > 0; j--) {
		if (store_layer_exists(s, "vfs", chains[j - 1])) {
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
		if (store_layer_exists(s, backend, chains[i]))
			continue;
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

char *stack_vfs_top(struct store *s, const struct store_image *img, struct strata_error **err)
{
	cleanup_strv char **chains = NULL;
	size_t n = img ? img->n_layers : 0;

	if (n == 0)
		return stack_empty_dir(s, "vfs", err);
	if (layers_dir_ensure(s, "vfs", img, n, err) < 0)
		return NULL;
	chains = store_image_chain_ids(img);
	return layers_dir_path(s, "vfs", chains[n - 1]);
}
