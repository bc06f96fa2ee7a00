/*
 * cmd/template: the Go text/template subset of --format, checked against
 * what Go's text/template (as podman runs it) prints for the same
 * templates and values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/template.h"
#include "tests/unit/unit.h"

/* A row as podman's image listing has it. */
static const char *const row_json =
	"{\"ID\":\"6915f9863320\",\"Repository\":\"localhost/busybox\",\"Tag\":\"latest\","
	"\"Names\":[\"localhost/busybox:latest\",\"b:1\"],\"Size\":2141340,"
	"\"Labels\":{\"z\":\"last\",\"a\":\"b\"},\"ReadOnly\":false,\"Empty\":[],"
	"\"Config\":{\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/bin\",\"X=1\"],\"Entrypoint\":null},"
	"\"Ratio\":0.5,\"Nested\":[{\"k\":\"v\"}],\"Title\":\"hello wide world\"}";

/* @tmpl on the row: what it prints (caller frees), or NULL with the error's message in @msg. */
static char *render(const char *tmpl, char *msg, size_t msize)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *row = json_loads(row_json, 0, NULL);
	struct cmd_template *t = cmd_template_parse(tmpl, &err);
	struct sbuf out = SBUF_INIT;

	ck_assert_ptr_nonnull(row);
	if (!t || cmd_template_exec(t, row, &out, &err) < 0) {
		snprintf(msg, msize, "%s", strata_error_msg(err));
		strata_error_free(err);
		cmd_template_free(t);
		sbuf_release(&out);
		return NULL;
	}
	cmd_template_free(t);
	return sbuf_detach(&out, NULL);
}

static void expect(const char *tmpl, const char *want)
{
	char msg[512] = "";
	cleanup_free char *got = render(tmpl, msg, sizeof(msg));

	ck_assert_msg(got, "'%s' failed: %s", tmpl, msg);
	ck_assert_msg(!strcmp(got, want), "'%s' printed '%s', want '%s'", tmpl, got, want);
}

static void expect_error(const char *tmpl, const char *part)
{
	char msg[512] = "";
	cleanup_free char *got = render(tmpl, msg, sizeof(msg));

	ck_assert_msg(!got, "'%s' printed '%s', want an error", tmpl, got ? got : "");
	ck_assert_msg(strstr(msg, part), "'%s': error '%s' lacks '%s'", tmpl, msg, part);
	ck_assert_msg(!strchr(msg, '\n'), "'%s': error on two lines", tmpl);
}

START_TEST(test_fields_and_values)
{
	expect("{{.Repository}}:{{.Tag}}", "localhost/busybox:latest\n");
	expect("{{.Config.Cmd}}", "[sh]\n");
	expect("{{.Config.Env}}", "[PATH=/bin X=1]\n");
	expect("{{.Size}}", "2141340\n");
	expect("{{.ReadOnly}}", "false\n");
	expect("{{.Labels}}", "map[a:b z:last]\n");
	expect("{{.Labels.a}}", "b\n");
	expect("{{.Labels.missing}}", "<no value>\n");
	expect("{{.Empty}}", "[]\n");
	expect("{{.Ratio}}", "0.5\n");
	expect("{{.Nested}}", "[map[k:v]]\n");
	expect("{{.}}", "map[Config:map[Cmd:[sh] Entrypoint:<nil> Env:[PATH=/bin X=1]] Empty:[] "
			"ID:6915f9863320 Labels:map[a:b z:last] Names:[localhost/busybox:latest b:1] "
			"Nested:[map[k:v]] Ratio:0.5 ReadOnly:false Repository:localhost/busybox "
			"Size:2141340 Tag:latest Title:hello wide world]\n");
	/* the text around actions, the escapes podman turns into tabs and newlines */
	expect("id={{.ID}}\\t{{.Tag}}\\n", "id=6915f9863320\tlatest\n");
	expect("{{.ID}}\n", "6915f9863320\n");
	expect("{{- .ID -}}  \n  {{.Tag}}", "6915f9863320latest\n");
	expect("a{{/* a comment */}}b", "ab\n");
	expect("{{\"}}\"}}", "}}\n");
	/* podman turns backslash-n into a newline everywhere in the text, raw strings too */
	expect("{{`raw\\n`}}", "raw\n\n");
}
END_TEST

START_TEST(test_functions)
{
	expect("{{json .Labels}}", "{\"z\":\"last\",\"a\":\"b\"}\n");
	expect("{{json .Config.Cmd}}", "[\"sh\"]\n");
	expect("{{.Config.Cmd | json}}", "[\"sh\"]\n");
	expect("{{json .Tag}}", "\"latest\"\n");
	expect("{{upper .Tag}}", "LATEST\n");
	expect("{{.Repository | upper | lower}}", "localhost/busybox\n");
	expect("{{title .Title}}", "Hello Wide World\n");
	expect("{{join .Names \",\"}}", "localhost/busybox:latest,b:1\n");
	expect("{{truncate .ID 4}}", "6915\n");
	expect("{{truncate .Tag 40}}", "latest\n");
	expect("{{printf \"%-8s|%5d|%q|%v|%x\" .Tag .Size .Tag .Config.Cmd 255}}",
	       "latest  |2141340|\"latest\"|[sh]|ff\n");
	expect("{{printf \"%s\" .Tag .ID}}", "latest%!(EXTRA string=6915f9863320)\n");
	expect("{{printf \"%s %s\" .Tag}}", "latest %!s(MISSING)\n");
	expect("{{.Tag | printf \"<%s>\"}}", "<latest>\n");
	/* widths and precisions past 1e6 are refused as Go's fmt refuses them, never written */
	expect("{{printf \"%2147483648d|%999999999s|%.999999999f|%1000000000000000000000d\" 1 .Tag 1.5 2}}",
	       "%!(BADWIDTH)1|%!(BADWIDTH)latest|%!(BADPREC)1.500000|%!(BADWIDTH)2\n");
	expect("{{printf \"%--05d|%.f|%3.1f\" 7 2.5 3.14159}}", "7    |2|3.1\n");
	expect("{{index .Labels \"a\"}}", "b\n");
	expect("{{index .Labels \"nope\"}}", "\n");
	expect("{{index .Names 1}}", "b:1\n");
	expect("{{len .Names}} {{len .Tag}}", "2 6\n");
	expect("{{split \"a:b:c\" \":\"}}", "[a b c]\n");
	expect("{{pad .Tag 1 2}}|", " latest  |\n");
	expect("{{print 1 2 \"x\" 3}}", "1 2x3\n");
	expect("{{eq .Tag \"latest\"}} {{ne .Size 1}} {{lt 1 2}} {{ge .Size 2141341}}",
	       "true true true false\n");
	expect("{{eq .Tag \"a\" \"latest\"}}", "true\n");
	expect("{{and .Tag .Empty}}|{{or .Empty .Tag}}|{{not .ReadOnly}}", "[]|latest|true\n");
	expect("{{(index .Nested 0).k}}", "v\n");
	/* bytes that are not UTF-8 pass through a function as they are */
	expect("{{upper \"a\\xffb\"}}", "A\xff" "B\n");
	expect("{{upper (index .Names 0)}}", "LOCALHOST/BUSYBOX:LATEST\n");
}
END_TEST

START_TEST(test_control)
{
	expect("{{if .ReadOnly}}ro{{else}}rw{{end}}", "rw\n");
	expect("{{if .Empty}}a{{else if .Labels}}b{{else}}c{{end}}", "b\n");
	expect("{{if eq .Tag \"latest\"}}L{{end}}", "L\n");
	expect("{{range .Names}}[{{.}}]{{end}}", "[localhost/busybox:latest][b:1]\n");
	expect("{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}", "0=localhost/busybox:latest 1=b:1 \n");
	expect("{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}", "a=b,z=last,\n");
	expect("{{range .Empty}}x{{else}}none{{end}}", "none\n");
	expect("{{range .Names}}{{$.Tag}} {{end}}", "latest latest \n");
	expect("{{with .Config}}{{.Cmd}}{{end}}", "[sh]\n");
	expect("{{with .Empty}}x{{else}}empty{{end}}", "empty\n");
	expect("{{$t := .Tag}}{{range .Names}}{{$t}}{{end}}", "latestlatest\n");
	expect("{{range .Nested}}{{.k}}{{end}}", "v\n");
}
END_TEST

START_TEST(test_errors)
{
	expect_error("{{.Nope}}", "can't evaluate field Nope");
	expect_error("{{.Tag.X}}", "can't evaluate field X in type string");
	expect_error("{{.Tag", "unclosed action");
	expect_error("{{if .Tag}}x", "missing {{end}}");
	expect_error("{{end}}", "unexpected {{end}}");
	expect_error("{{nofunc .Tag}}", "function \"nofunc\" not defined");
	expect_error("{{.Tag .ID}}", "can't give argument to non-function");
	expect_error("{{upper}}", "wrong number of args for upper");
	expect_error("{{join .Tag \",\"}}", "join: wants a list");
	expect_error("{{index .Names 5}}", "index out of range");
	expect_error("{{range .Tag}}{{end}}", "range can't iterate over string");
	expect_error("{{$x}}", "undefined variable: $x");
	expect_error("{{\"abc}}", "unclosed action");
	expect_error("{{template \"x\"}}", "not supported");
	expect_error("{{lt .Tag 1}}", "incompatible types");
}
END_TEST

/* Templates made to exhaust: nesting past Go's 10,000 and values that double without end. */
START_TEST(test_hostile)
{
	struct sbuf t = SBUF_INIT;

	for (int n = 0; n < 2; n++) {
		int depth = n ? 10001 : 10000;

		sbuf_addstr(&t, "{{");
		for (int i = 0; i < depth; i++)
			sbuf_addstr(&t, "(");
		sbuf_addstr(&t, "1");
		for (int i = 0; i < depth; i++)
			sbuf_addstr(&t, ")");
		sbuf_addstr(&t, "}}");
		if (n)
			expect_error(t.buf, "max expression depth exceeded");
		else
			expect(t.buf, "1\n");
		sbuf_release(&t);
	}
	for (int i = 0; i < 10001; i++)
		sbuf_addstr(&t, "{{if 1}}");
	sbuf_addstr(&t, "x");
	for (int i = 0; i < 10001; i++)
		sbuf_addstr(&t, "{{end}}");
	expect_error(t.buf, "max block depth exceeded");
	sbuf_release(&t);
	sbuf_addstr(&t, "{{$a := .Tag}}");
	for (int i = 0; i < 30; i++)
		sbuf_addstr(&t, "{{$a = printf \"%s%s\" $a $a}}");
	sbuf_addstr(&t, "{{len $a}}");
	expect_error(t.buf, "printf: a value of more than 16 MiB");
	sbuf_release(&t);
}
END_TEST

START_TEST(test_table_header)
{
	struct strata_error *err = NULL;
	cleanup_json json_t *fields = json_loads("{\"ID\":1,\"Repository\":1,\"CreatedAt\":1,"
						 "\"ImageID\":1,\"ReadOnly\":1}", 0, NULL);
	cleanup_json json_t *headers = json_loads("{\"ID\":\"IMAGE ID\",\"ReadOnly\":\"R/O\"}", 0,
						  NULL);
	struct cmd_template *t = cmd_template_parse(
		"table {{.ID}}\\t{{.Repository}}\\t{{.CreatedAt}}\\t{{.ImageID}}\\t{{.ReadOnly}}", &err);
	struct sbuf out = SBUF_INIT;

	ck_assert_ok(t ? 0 : -1, err);
	ck_assert(cmd_template_is_table(t));
	ck_assert_ok(cmd_template_exec_header(t, fields, headers, &out, &err), err);
	ck_assert_str_eq(out.buf, "IMAGE ID\tREPOSITORY\tCREATED AT\tIMAGE ID\tR/O\n");
	cmd_template_free(t);
	sbuf_release(&out);

	/* a misspelt field is refused by the header, even with no row to print */
	t = cmd_template_parse("table {{.Repo}}", &err);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(cmd_template_exec_header(t, fields, headers, &out, &err), -1);
	ck_assert_ptr_nonnull(strstr(strata_error_msg(err), "can't evaluate field Repo"));
	strata_error_free(err);
	cmd_template_free(t);
	sbuf_release(&out);

	t = cmd_template_parse("{{.ID}}", &err);
	ck_assert(!cmd_template_is_table(t));
	cmd_template_free(t);
}
END_TEST

/* What cmd_template_print_columns prints, read back from a temporary stdout. */
static char *columns(const char *text)
{
	char path[] = "/tmp/strata-template-XXXXXX";
	int fd = mkstemp(path), saved = dup(1);
	char *buf = xcalloc(1, 4096);
	FILE *f;

	ck_assert_int_ge(fd, 0);
	fflush(stdout);
	dup2(fd, 1);
	cmd_template_print_columns(text, strlen(text));
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fdopen(fd, "r");
	rewind(f);
	ck_assert_int_ge((int)fread(buf, 1, 4095, f), 0);
	fclose(f);
	unlink(path);
	return buf;
}

START_TEST(test_columns)
{
	cleanup_free char *a = columns("REPOSITORY\tTAG\tSIZE\nlocalhost/busybox\tlatest\t2.14 MB\n");
	cleanup_free char *b = columns("A\tB\nlong-cell-of-20char\tx\tc\n");

	/* podman: cells padded by 2, at least 12 wide; the last cell as it is */
	ck_assert_str_eq(a, "REPOSITORY         TAG         SIZE\n"
			    "localhost/busybox  latest      2.14 MB\n");
	ck_assert_str_eq(b, "A                    B\n"
			    "long-cell-of-20char  x           c\n");
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("template");

	tcase_add_test(tc, test_fields_and_values);
	tcase_add_test(tc, test_functions);
	tcase_add_test(tc, test_control);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_table_header);
	tcase_add_test(tc, test_columns);
	suite_add_tcase(s, tc);
	return s;
}
