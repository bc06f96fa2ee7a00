/*
 * The vfs backend: no union at all. Each layer dir is a full snapshot (the
 * parent's copy with the layer applied, made by layers/), and a
 * container's rootfs is a copy of the top snapshot, so it works on any
 * filesystem and needs no privilege to mount. The price is disk space and
 * the time of the copies; diff and commit compare the rootfs with the
 * image's top snapshot.
 */
#include "overlay/overlay-int.h"

const struct backend_ops overlay_backend_vfs = {
	.name = "vfs",
	.whiteout = LAYERS_WHITEOUT_VFS,
	.has_upper = false,
	.probe = NULL,
	.mount = NULL,
	.max_lowers = NULL,
};
