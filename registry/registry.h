/*
 * registry: pull and push images from and to registries that speak the OCI
 * distribution spec (and Docker's flavour of it), over libcurl; the
 * WWW-Authenticate challenge (Bearer tokens and Basic); credentials in
 * containers-auth.json files (login, logout); the containers configuration
 * (registries.conf, policy.json, certs.d) and a blob-info cache.
 */
#ifndef STRATA_REGISTRY_REGISTRY_H
#define STRATA_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"
#include "store/store.h"
#include "layers/layers.h"

/* What a pull or push tells its progress callback. */
enum registry_event_kind {
	REGISTRY_EVENT_START, /* a blob transfer (re)starts: @done bytes of @total are there */
	REGISTRY_EVENT_BYTES, /* @done bytes of @total have passed */
	REGISTRY_EVENT_DONE,  /* the blob is finished; @msg says how ("2.1MB", "already present") */
	REGISTRY_EVENT_NOTE,  /* a line to show: a retry (with @digest), the tag, the manifest */
};

struct registry_event {
	enum registry_event_kind kind;
	const char *digest; /* the blob; NULL for a NOTE about the whole image */
	uint64_t done, total;
	const char *msg;    /* DONE and NOTE only */
};

/* Receives progress events, in order, from the thread that called pull or push. */
typedef void (*registry_progress_fn)(const struct registry_event *ev, void *arg);

/*
 * Asks which of @n fully qualified @candidates the short name @name means
 * (podman's prompt); returns its index, or -1 when nobody can be asked.
 */
typedef int (*registry_choose_fn)(const char *name, char *const *candidates, size_t n, void *arg);

/*
 * Loads libcurl, once (curl-load.c: strata is not linked with it, so that
 * commands without HTTP do not pay for mapping it). Fails with the dynamic
 * loader's reason when it cannot be loaded; every HTTP user calls it first.
 */
int registry_http_load(struct strata_error **err);

/* How to reach a registry; every field may be left zero. */
struct registry_opts {
	bool insecure;	      /* --tls-verify=false: plain http allowed, certificates not checked */
	bool tls_verify;      /* --tls-verify=true: verified https even where registries.conf allows less */
	const char *signature_policy; /* --signature-policy FILE, or NULL for the default search */
	const char *cert_dir; /* --cert-dir DIR, or NULL for the certs.d directories */
	const char *creds;    /* "USER[:PASS]" given on the command line, or NULL */
	const char *authfile; /* --authfile, or NULL for the default search */
	const char *platform; /* "OS/ARCH[/VARIANT]" to pick from an index; NULL: this machine */
	bool recompress;      /* push: recompress the layers to @compression */
	enum layers_compression compression;
	registry_progress_fn progress; /* NULL: nothing is reported */
	void *progress_arg;
	/*
	 * pull: asked when a short name has several search registries to try
	 * (short-name-mode enforcing or permissive); the choice, once pulled,
	 * is recorded in the short-name alias cache. NULL: never asked.
	 */
	registry_choose_fn choose;
	void *choose_arg;
	/*
	 * pull: make the layer dirs of this backend as the layers arrive (and
	 * all of them before the tag); NULL: do not
	 */
	const char *unpack_backend;
};

/*
 * Pulls @ref ("[REGISTRY[:PORT]/]REPO[:TAG|@DIGEST]") into @s: manifest,
 * config and layers, every blob checked against its digest while it streams,
 * then tags it with the full reference. Writes the image ID (config digest)
 * to @id. On failure no tag changes and the store stays consistent.
 */
int registry_pull(struct store *s, const char *ref, const struct registry_opts *o,
		  char id[DIGEST_STR_LEN], struct strata_error **err);

/*
 * The tags of the repository @ref names (its tag, if any, is ignored), in
 * the registry's order, into *out (strv_free).
 */
int registry_tags_list(const char *ref, const struct registry_opts *o, char ***out,
		       struct strata_error **err);

/*
 * Pushes the image @image of @s to @dest (a reference, optionally with a
 * "docker://" prefix; NULL: @image itself): blobs the registry lacks
 * (chunked PATCH uploads for large ones), then the manifest. With
 * o->recompress, layers in another compression are recompressed through
 * unlinked temp files and a new OCI manifest is pushed; the local image does
 * not change. Writes the pushed manifest digest to @digest.
 */
int registry_push(struct store *s, const char *image, const char *dest,
		  const struct registry_opts *o, char digest[DIGEST_STR_LEN],
		  struct strata_error **err);

/*
 * Judges the image archive or OCI layout at @path, about to be loaded, by the
 * signature policy (@policy_file, or the user's, or the system's): transport
 * docker-archive (the "" scope only), oci-archive or oci (the resolved path
 * and its parents). EACCES when rejected, ENOTSUP when signatures are asked.
 */
int registry_policy_check_load(const char *policy_file, const char *path,
			       struct strata_error **err);

/* Checks @user / @pass against @registry, then stores them in the auth file. */
int registry_login(const char *registry, const char *user, const char *pass,
		   const struct registry_opts *o, struct strata_error **err);

/* Removes the credentials of @registry (every registry when @all) from the auth file. */
int registry_logout(const char *registry, bool all, const char *authfile,
		    struct strata_error **err);

/* The auth file login writes: @authfile, $REGISTRY_AUTH_FILE, or ${XDG_RUNTIME_DIR:-/run/user/UID}/containers/auth.json. Caller frees. */
char *registry_authfile_path(const char *authfile);

/*
 * Finds stored credentials for @registry ("HOST[:PORT][/NAMESPACE...]", the
 * longest namespace first): in @authfile or $REGISTRY_AUTH_FILE alone when
 * given, else the XDG runtime auth.json, ~/.config/containers/auth.json,
 * ~/.docker/config.json, ~/.dockercfg, the first file with an entry
 * winning. Sets *user and *pass (caller frees) or leaves them NULL.
 */
int registry_auth_lookup(const char *registry, const char *authfile, char **user, char **pass,
			 struct strata_error **err);

#endif
