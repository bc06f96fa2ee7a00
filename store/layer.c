/*
 * Layer directories. A layer dir is named by the
 * chain ID of the layer stack it holds, so every image with the same chain
 * shares it; layers/ makes them, the store names, moves, walks and collects them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

char *store_layer_path(struct store *s, const char *backend, const char *chain_id)
{
	return xasprintf("%s/layers/%s/%s", s->root, backend, digest_hex(chain_id));
}

bool store_layer_exists(struct store *s, const char *backend, const char *chain_id)
{
	cleanup_free char *rel = xasprintf("%s/%s/layer.json", backend, digest_hex(chain_id));

	return faccessat(s->layers_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

json_t *store_layer_record(struct store *s, const char *backend, const char *chain_id,
			   struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/%s/layer.json", backend, digest_hex(chain_id));

	return jv_load_at(s->layers_fd, rel, STORE_JSON_MAX, err);
}

int store_layers_open(struct store *s, const char *backend, const char *sub, bool create,
		      struct strata_error **err)
{
	cleanup_free char *rel = sub ? xasprintf("%s/%s", backend, sub) : xstrdup(backend);
	int fd;

	if (create) {
		if (mkdirat(s->layers_fd, backend, 0700) < 0 && errno != EEXIST)
			return strata_fail(err, errno, "mkdir 'layers/%s'", backend);
		if (sub && mkdirat(s->layers_fd, rel, 0700) < 0 && errno != EEXIST)
			return strata_fail(err, errno, "mkdir 'layers/%s'", rel);
	}
	fd = openat(s->layers_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open 'layers/%s'", rel);
	return fd;
}

char *store_layers_path(struct store *s, const char *backend, const char *sub)
{
	return sub ? xasprintf("%s/layers/%s/%s", s->root, backend, sub)
		   : xasprintf("%s/layers/%s", s->root, backend);
}

int store_layer_publish(struct store *s, const char *backend, const char *chain_id,
			const char *name, struct strata_error **err)
{
	cleanup_close int bfd = store_layers_open(s, backend, NULL, true, err);
	const char *hex = digest_hex(chain_id);

	if (bfd < 0)
		return -1;
	if (renameat(s->tmp_fd, name, bfd, hex) < 0) {
		int e = errno == ENOTEMPTY ? EEXIST : errno;

		return strata_fail(err, e, "move layer dir into 'layers/%s/%s'", backend, hex);
	}
	/* The name is durable once the layer is in use; its content is a cache (layer.json says). */
	file_fsync_dir(bfd, NULL);
	return 0;
}

int store_layer_move_aside(struct store *s, const char *backend, const char *chain_id,
			   char **trash, struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/%s", backend, digest_hex(chain_id));
	cleanup_free char *name = store_tmp_name(".layer-rm");

	*trash = NULL;
	if (renameat(s->layers_fd, rel, s->tmp_fd, name) < 0) {
		if (errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "move 'layers/%s' aside", rel);
	}
	*trash = steal_ptr(&name);
	return 0;
}

int store_layer_walk(struct store *s,
		     int (*fn)(const struct store_layer_entry *e, void *arg,
			       struct strata_error **err),
		     void *arg, struct strata_error **err)
{
	cleanup_dir DIR *top = NULL;
	struct dirent *be;

	if (!(top = file_opendir_at(s->layers_fd, ".")))
		return strata_fail(err, errno, "read '%s/layers'", s->root);
	while ((be = readdir(top))) {
		cleanup_dir DIR *d = NULL;
		struct dirent *de;

		if (be->d_name[0] == '.' || !(d = file_opendir_at(s->layers_fd, be->d_name)))
			continue;
		while ((de = readdir(d))) {
			struct store_layer_entry e = { be->d_name, de->d_name, dirfd(d) };

			/* Only chain-ID dirs are layers; a backend's other entries are its own. */
			if (strlen(de->d_name) != DIGEST_HEX_LEN || !digest_is_hex_prefix(de->d_name))
				continue;
			if (fn(&e, arg, err) < 0)
				return -1;
		}
	}
	return 0;
}
