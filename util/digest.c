/*
 * SHA-256 and base64 through libcrypto's EVP interface, which picks the
 * SHA-NI code path where the CPU has it (several times faster than
 * coreutils).
 *
 * libcrypto is loaded on first use (util/dlib.c), not linked: mapping and
 * relocating it cost every start 128 page faults, about 3 ms, and most
 * commands (ps, images, rm, run of an image already unpacked) hash nothing.
 * A digester cannot fail once made, so a libcrypto that cannot be loaded
 * is reported, then aborts as running out of memory does: strata's package
 * depends on it, as the dynamic loader did when it was linked.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/util.h"

/* libcrypto's functions strata calls, typed from its own headers. */
static struct {
	__typeof__(&EVP_MD_CTX_new) md_ctx_new;
	__typeof__(&EVP_MD_CTX_free) md_ctx_free;
	__typeof__(&EVP_sha256) sha256;
	__typeof__(&EVP_DigestInit_ex) digest_init;
	__typeof__(&EVP_DigestUpdate) digest_update;
	__typeof__(&EVP_DigestFinal_ex) digest_final;
	__typeof__(&EVP_EncodeBlock) encode_block;
	__typeof__(&EVP_DecodeBlock) decode_block;
	__typeof__(&OpenSSL_version) version;
} evp;

#define SYM(field, name) DLIB_SYM(__typeof__(evp), field, name)
static const struct dlib_sym syms[] = {
	SYM(md_ctx_new, "EVP_MD_CTX_new"),
	SYM(md_ctx_free, "EVP_MD_CTX_free"),
	SYM(sha256, "EVP_sha256"),
	SYM(digest_init, "EVP_DigestInit_ex"),
	SYM(digest_update, "EVP_DigestUpdate"),
	SYM(digest_final, "EVP_DigestFinal_ex"),
	SYM(encode_block, "EVP_EncodeBlock"),
	SYM(decode_block, "EVP_DecodeBlock"),
	SYM(version, "OpenSSL_version"),
};
#undef SYM

/* The ABI's soname: OpenSSL 3's. */
static const char *const sonames[] = {"libcrypto.so.3", NULL};
static struct dlib libcrypto = DLIB_INIT(sonames, syms, &evp, NULL);

static void need_libcrypto(void)
{
	if (!dlib_ready(&libcrypto)) {
		log_error("%s", dlib_error(&libcrypto));
		abort();
	}
}

const char *digest_library_version(void)
{
	return dlib_ready(&libcrypto) ? evp.version(OPENSSL_VERSION) : dlib_error(&libcrypto);
}

struct digester {
	EVP_MD_CTX *ctx;
};

struct digester *digester_new(void)
{
	struct digester *d = xmalloc(sizeof(*d));

	need_libcrypto();
	d->ctx = evp.md_ctx_new();
	if (!d->ctx || evp.digest_init(d->ctx, evp.sha256(), NULL) != 1)
		abort();
	return d;
}

void digester_update(struct digester *d, const void *buf, size_t n)
{
	if (n && evp.digest_update(d->ctx, buf, n) != 1)
		abort();
}

static void to_hex(const unsigned char *md, unsigned int n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned int i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void digester_final(struct digester *d, char out[DIGEST_STR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (evp.digest_final(d->ctx, md, &n) != 1 || n != 32)
		abort();
	memcpy(out, "sha256:", 7);
	to_hex(md, n, out + 7);
}

void digester_free(struct digester *d)
{
	if (!d)
		return;
	evp.md_ctx_free(d->ctx);
	free(d);
}

void digest_buf(const void *buf, size_t n, char out[DIGEST_STR_LEN])
{
	struct digester *d = digester_new();

	digester_update(d, buf, n);
	digester_final(d, out);
	digester_free(d);
}

#define DIGEST_FD_BUF (256 * 1024)

int digest_fd(int fd, char out[DIGEST_STR_LEN], uint64_t *size, struct strata_error **err)
{
	struct digester *d = digester_new();
	/* on the heap: a static thread-local buffer is set up (zeroed) in every new thread */
	cleanup_free char *buf = xmalloc(DIGEST_FD_BUF);
	uint64_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, DIGEST_FD_BUF);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			digester_free(d);
			return strata_fail(err, errno, "read");
		}
		if (n == 0)
			break;
		digester_update(d, buf, (size_t)n);
		total += (uint64_t)n;
	}
	digester_final(d, out);
	digester_free(d);
	if (size)
		*size = total;
	return 0;
}

char *base64_encode(const void *buf, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	need_libcrypto();
	evp.encode_block((unsigned char *)out, buf, (int)n);
	return out;
}

char *base64_decode(const char *s)
{
	size_t len = strlen(s), pad = 0;
	unsigned char *out;
	int n;

	if (len % 4 != 0)
		return NULL;
	need_libcrypto();
	out = xmalloc(len / 4 * 3 + 1);
	n = evp.decode_block(out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	if (len >= 1 && s[len - 1] == '=')
		pad++;
	if (len >= 2 && s[len - 2] == '=')
		pad++;
	n -= (int)pad;
	out[n] = '\0';
	if (memchr(out, '\0', (size_t)n)) {
		free(out);
		return NULL;
	}
	return (char *)out;
}

bool digest_is_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0)
		return false;
	d += 7;
	for (int i = 0; i < DIGEST_HEX_LEN; i++) {
		char c = d[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return d[DIGEST_HEX_LEN] == '\0';
}

const char *digest_hex(const char *d)
{
	return strncmp(d, "sha256:", 7) == 0 ? d + 7 : d;
}

bool digest_is_hex_prefix(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DIGEST_HEX_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void random_hex(char *out, size_t nhex)
{
	unsigned char raw[64];
	size_t need = (nhex + 1) / 2;

	while (need > 0) {
		size_t take = need > sizeof(raw) ? sizeof(raw) : need;
		ssize_t n = getrandom(raw, take, 0);
		char tmp[2 * sizeof(raw) + 1];
		size_t emit;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		to_hex(raw, (unsigned int)n, tmp);
		emit = (size_t)n * 2;
		if (emit > nhex)
			emit = nhex;
		memcpy(out, tmp, emit);
		out += emit;
		nhex -= emit;
		need -= (size_t)n;
	}
	*out = '\0';
}
