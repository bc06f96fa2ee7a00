/*
 * --format: the default table, JSON, or a Go template (cmd/template.c)
 * with podman's field names; a "table" template prints a header row and
 * aligns the columns as podman does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "cmd/template.h"

int cmd_option_template(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	struct cmd_format *f = opt->value;
	struct strata_error *err = NULL;

	cmd_format_release(f);
	f->json = false;
	/* podman: "json" and "{{json .}}" are the JSON listing, "table" the default one */
	if (!strcmp(arg, "json") || !strcmp(arg, "{{json .}}") || !strcmp(arg, "{{ json . }}")) {
		f->json = true;
		return 0;
	}
	if (!strcmp(arg, "table") || !*arg)
		return 0;
	if (!(f->tmpl = cmd_template_parse(arg, &err))) {
		/* the template as written, up to 256 bytes: it may be 128 KiB */
		cmd_usage_error(ctx, "invalid format '%.256s%s': %s", arg,
				strlen(arg) > 256 ? "..." : "", strata_error_msg(err));
		strata_error_free(err);
		return EXIT_STRATA;
	}
	return 0;
}

void cmd_format_release(struct cmd_format *f)
{
	cmd_template_free(f->tmpl);
	f->tmpl = NULL;
}

bool cmd_format_uses(const struct cmd_format *f, const char *name)
{
	return f->tmpl && cmd_template_uses(f->tmpl, name);
}

struct cmd_rows {
	struct cmd_ctx *ctx;
	const struct cmd_template *t;
	struct sbuf out;
};

struct cmd_rows *cmd_rows_new(struct cmd_ctx *ctx, const struct cmd_format *f,
			      const char *const *fields, const char *const *headers)
{
	struct cmd_rows *r = xcalloc(1, sizeof(*r));
	cleanup_json json_t *fo = json_object();
	cleanup_json json_t *ho = json_object();
	struct strata_error *err = NULL;
	struct sbuf hdr = SBUF_INIT;

	r->ctx = ctx;
	r->t = f->tmpl;
	for (size_t i = 0; fields[i]; i++)
		json_object_set_new(fo, fields[i], json_true());
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		jv_set_str(ho, headers[i], headers[i + 1]);
	/* The header is made even when not printed: it checks every field the template names. */
	if (cmd_template_exec_header(r->t, fo, ho, &hdr, &err) < 0) {
		cmd_fail(ctx, err);
		sbuf_release(&hdr);
		free(r);
		return NULL;
	}
	if (cmd_template_is_table(r->t) && !f->noheading)
		sbuf_add(&r->out, hdr.buf, hdr.len);
	sbuf_release(&hdr);
	return r;
}

int cmd_rows_add(struct cmd_rows *r, const json_t *row)
{
	struct strata_error *err = NULL;

	if (cmd_template_exec(r->t, row, &r->out, &err) < 0) {
		cmd_fail(r->ctx, err);
		return -1;
	}
	return 0;
}

void cmd_rows_print(struct cmd_rows *r)
{
	if (!r)
		return;
	if (cmd_template_is_table(r->t))
		cmd_template_print_columns(r->out.buf ? r->out.buf : "", r->out.len);
	else if (r->out.len)
		fwrite(r->out.buf, 1, r->out.len, stdout);
	sbuf_release(&r->out);
	free(r);
}

void cmd_rows_free(struct cmd_rows *r)
{
	if (!r)
		return;
	sbuf_release(&r->out);
	free(r);
}

char *cmd_go_time(int64_t sec, long nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64], frac[32] = "";

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	/* Go prints the fraction without its trailing zeros */
	if (nsec > 0) {
		size_t n;

		snprintf(frac, sizeof(frac), ".%09ld", nsec);
		n = strlen(frac);
		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	return xasprintf("%s%s +0000 UTC", buf, frac);
}

char *cmd_size_text(uint64_t n)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000.0 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000.0;
		u++;
	}
	/* go-units' HumanSizeWithPrecision(size, 3): "%.3g %s" */
	return xasprintf("%.3g %s", v, units[u]);
}
