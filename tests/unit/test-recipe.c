/*
 * recipe: the Containerfile parser, variable expansion and ARG/ENV scoping,
 * stages, ignore files and globs, build context sources and cache keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe/recipe.h"
#include "store/store.h"
#include "tests/unit/unit.h"

/* The fuzz target's harness, run here over its corpus as a regression test. */
#include "tests/fuzz/fuzz-recipe.c"

static struct recipe_file *parse_ok(const char *text)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_file *f = NULL;

	ck_assert_ok(recipe_parse(text, strlen(text), "Containerfile", &f, &err), err);
	return f;
}

/* Parses @text, which must fail with exactly @msg. */
static void parse_fails(const char *text, const char *msg)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_file *f = NULL;

	ck_assert_int_eq(recipe_parse(text, strlen(text), "Containerfile", &f, &err), -1);
	ck_assert_ptr_null(f);
	ck_assert_str_eq(strata_error_msg(err), msg);
}

/* ---- parser ---- */

START_TEST(test_parse_basic)
{
	struct recipe_file *f = parse_ok("# a comment\n"
					 "\n"
					 "from busybox\n"
					 "   Run echo hi   \n"
					 "CMD [\"sh\", \"-c\", \"echo x\"]\n"
					 "workdir /app\n");

	ck_assert_int_eq(f->n_instrs, 4);
	ck_assert_int_eq(f->instrs[0].cmd, RECIPE_FROM);
	ck_assert_int_eq(f->instrs[0].line, 3);
	ck_assert_str_eq(f->instrs[0].args[0], "busybox");
	ck_assert_int_eq(f->instrs[1].cmd, RECIPE_RUN);
	ck_assert_int_eq(f->instrs[1].line, 4);
	ck_assert(!f->instrs[1].is_json);
	ck_assert_str_eq(f->instrs[1].args[0], "echo hi");
	ck_assert_int_eq(f->instrs[2].cmd, RECIPE_CMD);
	ck_assert(f->instrs[2].is_json);
	ck_assert_int_eq(f->instrs[2].n_args, 3);
	ck_assert_str_eq(f->instrs[2].args[2], "echo x");
	ck_assert_str_eq(f->instrs[3].args[0], "/app");
	ck_assert_int_eq(f->escape, '\\');
	recipe_file_free(f);
}
END_TEST

START_TEST(test_parse_continuation)
{
	struct recipe_file *f = parse_ok("FROM a\n"
					 "RUN echo one \\\n"
					 "# a comment inside\n"
					 "\n"
					 "    # indented comment\n"
					 "  two \\   \n"
					 "three\n"
					 "LABEL a=b\n");

	ck_assert_int_eq(f->n_instrs, 3);
	ck_assert_str_eq(f->instrs[1].args[0], "echo one   two three");
	ck_assert_int_eq(f->instrs[1].line, 2);
	ck_assert_int_eq(f->instrs[2].line, 8);
	recipe_file_free(f);
}
END_TEST

START_TEST(test_parse_escape_directive)
{
	struct recipe_file *f = parse_ok("# syntax=docker/dockerfile:1\n"
					 "# escape=`\n"
					 "FROM a\n"
					 "COPY a\\b c:\\dir\\\n"
					 "RUN echo x `\n"
					 "  y\n");

	ck_assert_int_eq(f->escape, '`');
	ck_assert_str_eq(f->instrs[1].args[0], "a\\b");
	ck_assert_str_eq(f->instrs[1].args[1], "c:\\dir\\");
	ck_assert_str_eq(f->instrs[2].args[0], "echo x   y");
	recipe_file_free(f);

	/* After a comment, a directive is only a comment. */
	f = parse_ok("# hello\n# escape=`\nFROM a\nRUN a \\\n b\n");
	ck_assert_int_eq(f->escape, '\\');
	ck_assert_str_eq(f->instrs[1].args[0], "a  b");
	recipe_file_free(f);

	parse_fails("# escape=`\n# escape=\\\nFROM a\n",
		    "Containerfile:2: only one escape parser directive can be used");
	parse_fails("# escape=x\nFROM a\n",
		    "Containerfile:1: invalid escape token 'x' does not match ` or \\");
}
END_TEST

START_TEST(test_parse_heredoc)
{
	struct recipe_file *f = parse_ok("FROM a\n"
					 "RUN <<EOF\n"
					 "echo $HOME\n"
					 "  indented\n"
					 "EOF\n"
					 "RUN <<-'END' cat >/x; cat <<\"B\"\n"
					 "\t\ttabbed\n"
					 "\tEND\n"
					 "b body\n"
					 "B\n"
					 "COPY <<greeting.txt /app/\n"
					 "hello $NAME\n"
					 "greeting.txt\n"
					 "CMD x\n");

	ck_assert_int_eq(f->n_instrs, 5);
	ck_assert_int_eq(f->instrs[1].n_heredocs, 1);
	ck_assert_str_eq(f->instrs[1].heredocs[0].name, "EOF");
	ck_assert_str_eq(f->instrs[1].heredocs[0].content, "echo $HOME\n  indented\n");
	ck_assert(f->instrs[1].heredocs[0].expand);
	ck_assert_int_eq(f->instrs[2].n_heredocs, 2);
	ck_assert_str_eq(f->instrs[2].heredocs[0].name, "END");
	ck_assert(f->instrs[2].heredocs[0].chomp);
	ck_assert(!f->instrs[2].heredocs[0].expand);
	ck_assert_str_eq(f->instrs[2].heredocs[0].content, "tabbed\n");
	ck_assert_str_eq(f->instrs[2].heredocs[1].name, "B");
	ck_assert(!f->instrs[2].heredocs[1].expand);
	ck_assert_str_eq(f->instrs[2].heredocs[1].content, "b body\n");
	ck_assert_str_eq(f->instrs[3].args[0], "<<greeting.txt");
	ck_assert_str_eq(f->instrs[3].heredocs[0].content, "hello $NAME\n");
	ck_assert_int_eq(f->instrs[4].line, 14);
	recipe_file_free(f);

	parse_fails("FROM a\nRUN <<EOF\necho\n", "Containerfile:2: unterminated heredoc '<<EOF'");
	/* Quoted "<<" is not a heredoc; the exec form has none either. */
	f = parse_ok("FROM a\nRUN echo '<<EOF'\nRUN [\"<<EOF\"]\n");
	ck_assert_int_eq(f->instrs[1].n_heredocs, 0);
	ck_assert_int_eq(f->instrs[2].n_heredocs, 0);
	recipe_file_free(f);
}
END_TEST

START_TEST(test_parse_forms)
{
	struct recipe_file *f = parse_ok("FROM a AS Build\n"
					 "ENTRYPOINT [oops\n"
					 "ENV A=1 B=\"x y\" C=a\\ b\n"
					 "ENV OLD hello  world\n"
					 "LABEL \"com.x\"=\"y z\"\n"
					 "ARG V W=2\n"
					 "EXPOSE 80/tcp  443\n"
					 "VOLUME [\"/a\", \"/b\"]\n"
					 "VOLUME /c /d\n"
					 "SHELL [\"/bin/bash\", \"-c\"]\n"
					 "USER 1000:1000\n"
					 "STOPSIGNAL SIGKILL\n"
					 "MAINTAINER someone <a@b>\n"
					 "CMD []\n");
	const struct recipe_instr *in = f->instrs;

	ck_assert_str_eq(in[0].args[2], "build");
	ck_assert(!in[1].is_json);
	ck_assert_str_eq(in[1].args[0], "[oops");
	ck_assert_int_eq(in[2].n_kvs, 3);
	ck_assert_str_eq(in[2].kvs[1].key, "B");
	ck_assert_str_eq(in[2].kvs[1].value, "\"x y\"");
	ck_assert_str_eq(in[2].kvs[2].value, "a\\ b");
	ck_assert_int_eq(in[3].n_kvs, 1);
	ck_assert_str_eq(in[3].kvs[0].key, "OLD");
	ck_assert_str_eq(in[3].kvs[0].value, "hello  world");
	ck_assert_str_eq(in[4].kvs[0].key, "\"com.x\"");
	ck_assert_int_eq(in[5].n_kvs, 2);
	ck_assert_ptr_null(in[5].kvs[0].value);
	ck_assert_str_eq(in[5].kvs[1].value, "2");
	ck_assert_int_eq(in[6].n_args, 2);
	ck_assert(in[7].is_json);
	ck_assert_int_eq(in[7].n_args, 2);
	ck_assert_int_eq(in[8].n_args, 2);
	ck_assert(in[9].is_json);
	ck_assert_str_eq(in[10].args[0], "1000:1000");
	ck_assert_str_eq(in[12].args[0], "someone <a@b>");
	ck_assert(in[13].is_json);
	ck_assert_int_eq(in[13].n_args, 0);
	recipe_file_free(f);
}
END_TEST

START_TEST(test_parse_flags)
{
	struct recipe_file *f = parse_ok("FROM --platform=linux/amd64 a\n"
					 "COPY --from=build --chown=1:2 --chmod=0755 --link a b\n"
					 "ADD --checksum=sha256:00 \"--not-a-flag\" x\n"
					 "RUN --network=none true\n"
					 "HEALTHCHECK --interval=5s --retries=3 CMD [\"true\"]\n"
					 "HEALTHCHECK NONE\n");
	const struct recipe_instr *in = f->instrs;

	ck_assert_str_eq(recipe_instr_flag(&in[0], "platform"), "linux/amd64");
	ck_assert_str_eq(recipe_instr_flag(&in[1], "from"), "build");
	ck_assert_str_eq(recipe_instr_flag(&in[1], "chown"), "1:2");
	ck_assert_str_eq(recipe_instr_flag(&in[1], "chmod"), "0755");
	ck_assert_str_eq(recipe_instr_flag(&in[1], "link"), "");
	ck_assert_ptr_null(recipe_instr_flag(&in[1], "checksum"));
	ck_assert_str_eq(in[1].args[0], "a");
	ck_assert_str_eq(in[2].args[0], "\"--not-a-flag\"");
	ck_assert_str_eq(recipe_instr_flag(&in[3], "network"), "none");
	ck_assert_str_eq(in[4].args[0], "CMD");
	ck_assert_str_eq(in[4].args[1], "true");
	ck_assert(in[4].is_json);
	ck_assert_str_eq(in[5].args[0], "NONE");
	recipe_file_free(f);

	parse_fails("FROM a\nCOPY --nope=1 a b\n",
		    "Containerfile:2: unknown flag '--nope' for COPY");
	parse_fails("FROM a\nRUN --security=insecure true\n",
		    "Containerfile:2: RUN --security is not supported");
	parse_fails("FROM a\nCOPY --from=a --from=b a b\n",
		    "Containerfile:2: duplicate flag specified: --from");
	parse_fails("FROM a\nCOPY --from a b\n",
		    "Containerfile:2: missing a value on flag '--from'");
	parse_fails("FROM a\nCOPY --link=maybe a b\n",
		    "Containerfile:2: expecting boolean value for flag '--link', not: maybe");
	parse_fails("FROM a\nENV --x=1 A=b\n", "Containerfile:2: unknown flag '--x' for ENV");
	parse_fails("FROM a\nRUN --network=bridge true\n",
		    "Containerfile:2: invalid --network 'bridge' (expected default, none or host)");
}
END_TEST

START_TEST(test_parse_errors)
{
	parse_fails("FROM a\n\nFOOBAR x\n", "Containerfile:3: unknown instruction 'FOOBAR'");
	parse_fails("", "Containerfile:1: file with no instructions");
	parse_fails("# only a comment\n\n", "Containerfile:2: file with no instructions");
	parse_fails(
	    "ARG A\nRUN x\nFROM a\n",
	    "Containerfile:2: no build stage in current context: RUN before the first FROM");
	parse_fails("ARG A\n", "Containerfile:1: no FROM instruction in file");
	parse_fails("FROM a b\n", "Containerfile:1: FROM requires either one or three arguments");
	parse_fails("FROM a AS 1x\n",
		    "Containerfile:1: invalid name for build stage: '1x', name can't start with a "
		    "number or contain symbols");
	parse_fails(
	    "FROM a\nCOPY x\n",
	    "Containerfile:2: COPY requires at least two arguments, but only 1 was provided. "
	    "Destination could not be determined");
	parse_fails("FROM a\nENV A\n", "Containerfile:2: ENV must have two arguments");
	parse_fails("FROM a\nENV A=1 B\n",
		    "Containerfile:2: syntax error - can't find = in 'B'. Must be of the form: "
		    "name=value");
	parse_fails("FROM a\nLABEL =x\n", "Containerfile:2: LABEL names can not be blank");
	parse_fails("FROM a\nRUN\n", "Containerfile:2: RUN requires at least one argument");
	parse_fails("FROM a\nCMD [1, 2]\n", "Containerfile:2: when using JSON array syntax, arrays "
					    "must be comprised of strings only");
	parse_fails("FROM a\nSHELL /bin/sh -c\n",
		    "Containerfile:2: SHELL requires the arguments to be in JSON form");
	parse_fails("FROM a\nWORKDIR\n", "Containerfile:2: WORKDIR requires exactly one argument");
	parse_fails("FROM a\nHEALTHCHECK NONE x\n",
		    "Containerfile:2: HEALTHCHECK NONE takes no arguments");
	parse_fails("FROM a\nHEALTHCHECK CMD\n",
		    "Containerfile:2: missing command after HEALTHCHECK CMD");
	parse_fails("FROM a\nHEALTHCHECK PING x\n",
		    "Containerfile:2: unknown type 'PING' in HEALTHCHECK (try CMD)");
	parse_fails("FROM a\nHEALTHCHECK --interval=10 CMD x\n",
		    "Containerfile:2: invalid duration '10' for --interval");
	parse_fails("FROM a\nHEALTHCHECK --timeout=10us CMD x\n",
		    "Containerfile:2: --timeout '10us' cannot be less than 1ms");
	parse_fails("FROM a\nHEALTHCHECK --retries=-1 CMD x\n",
		    "Containerfile:2: --retries cannot be negative");
	parse_fails("FROM a\nONBUILD ONBUILD RUN x\n",
		    "Containerfile:2: chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
	parse_fails("FROM a\nONBUILD FROM b\n",
		    "Containerfile:2: FROM isn't allowed as an ONBUILD trigger");
	parse_fails("FROM a\nONBUILD\n", "Containerfile:2: ONBUILD requires at least one argument");
	parse_fails("FROM a\nENV A=${B\n", "Containerfile:2: syntax error: missing '}'");
	parse_fails("FROM a\nCOPY ${:x} b\n", "Containerfile:2: syntax error: bad substitution");
	parse_fails("FROM a\nWORKDIR ${A^b}\n",
		    "Containerfile:2: unsupported modifier (^) in substitution");
	parse_fails("FROM a\nWORKDIR ${A/b}\n", "Containerfile:2: syntax error: missing '/' in ${}");
	parse_fails(
	    "FROM a\nUSER \"x\n",
	    "Containerfile:2: unexpected end of statement while looking for matching double-quote");
	{
		cleanup_error struct strata_error *err = NULL;
		struct recipe_file *f = NULL;

		ck_assert_int_eq(recipe_parse("FROM a\nRUN a\0b\n", 14, "F", &f, &err), -1);
		ck_assert_str_eq(strata_error_msg(err), "F:2: NUL byte in file");
	}
}
END_TEST

static void mount_ok(const char *spec, struct recipe_mount *m)
{
	cleanup_error struct strata_error *err = NULL;

	ck_assert_ok(recipe_mount_parse(spec, '\\', NULL, m, &err), err);
}

static void mount_fails(const char *spec, const char *msg)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_mount m;

	ck_assert_int_eq(recipe_mount_parse(spec, '\\', NULL, &m, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), msg);
}

START_TEST(test_mount_parse)
{
	struct recipe_mount m;

	/* bind by default, read-only unless rw */
	mount_ok("target=/src,source=go.mod", &m);
	ck_assert_int_eq(m.type, RECIPE_MOUNT_BIND);
	ck_assert_str_eq(m.target, "/src");
	ck_assert_str_eq(m.source, "go.mod");
	ck_assert(m.readonly);
	ck_assert_ptr_null(m.from);
	recipe_mount_release(&m);
	mount_ok("type=bind,dst=x,src=y,from=build,rw", &m);
	ck_assert(!m.readonly);
	ck_assert_str_eq(m.target, "x");
	ck_assert_str_eq(m.from, "build");
	recipe_mount_release(&m);
	mount_ok("type=bind,destination=x,readwrite=true", &m);
	ck_assert(!m.readonly);
	recipe_mount_release(&m);
	/* cache: id defaults to the target, mode 0755, shared */
	mount_ok("type=cache,target=/root/.cache/go-build", &m);
	ck_assert_int_eq(m.type, RECIPE_MOUNT_CACHE);
	ck_assert_str_eq(m.id, "/root/.cache/go-build");
	ck_assert_int_eq(m.mode, 0755);
	ck_assert_int_eq(m.sharing, RECIPE_SHARING_SHARED);
	ck_assert(!m.readonly);
	ck_assert_int_eq(m.uid, -1);
	recipe_mount_release(&m);
	mount_ok("Type=Cache,id=apt,target=/var/cache/apt,sharing=locked,mode=0700,uid=1000,gid=2,ro",
		 &m);
	ck_assert_str_eq(m.id, "apt");
	ck_assert_int_eq(m.sharing, RECIPE_SHARING_LOCKED);
	ck_assert_int_eq(m.mode, 0700);
	ck_assert_int_eq(m.uid, 1000);
	ck_assert_int_eq(m.gid, 2);
	ck_assert(m.readonly);
	recipe_mount_release(&m);
	mount_ok("type=cache,target=/c,sharing=private", &m);
	ck_assert_int_eq(m.sharing, RECIPE_SHARING_PRIVATE);
	recipe_mount_release(&m);
	/* tmpfs sizes as go-units reads them */
	mount_ok("type=tmpfs,target=/t,size=64m", &m);
	ck_assert_uint_eq(m.size, 64u << 20);
	recipe_mount_release(&m);
	/* secret: id from the target's name, target from the id, mode 0400 */
	mount_ok("type=secret,id=npmrc", &m);
	ck_assert_str_eq(m.target, "/run/secrets/npmrc");
	ck_assert_int_eq(m.mode, 0400);
	ck_assert(!m.required);
	recipe_mount_release(&m);
	mount_ok("type=secret,target=/root/.netrc,required", &m);
	ck_assert_str_eq(m.id, ".netrc");
	ck_assert(m.required);
	recipe_mount_release(&m);
	mount_ok("type=secret,id=tok,env=TOKEN", &m);
	ck_assert_ptr_null(m.target);
	ck_assert_str_eq(m.env, "TOKEN");
	recipe_mount_release(&m);
	mount_ok("type=ssh", &m);
	ck_assert_str_eq(m.id, "default");
	ck_assert_ptr_null(m.target);
	recipe_mount_release(&m);
	/* quoted CSV fields */
	mount_ok("type=bind,\"target=/a,b\",source=x", &m);
	ck_assert_str_eq(m.target, "/a,b");
	recipe_mount_release(&m);
	/* a variable is checked once expanded */
	mount_ok("type=cache,target=$DIR,sharing=$S", &m);
	ck_assert_str_eq(m.target, "$DIR");
	recipe_mount_release(&m);
	{
		const char *args[] = { "S=locked", "DIR=/d", NULL };
		struct recipe_vars v = { NULL, (char **)args };
		cleanup_error struct strata_error *err = NULL;

		ck_assert_ok(recipe_mount_parse("type=cache,target=$DIR,sharing=$S", '\\', &v, &m,
						&err),
			     err);
		ck_assert_str_eq(m.target, "/d");
		ck_assert_int_eq(m.sharing, RECIPE_SHARING_LOCKED);
		recipe_mount_release(&m);
		ck_assert_int_eq(recipe_mount_parse("type=cache,target=/x,sharing=${S}x", '\\', &v,
						    &m, &err),
				 -1);
		ck_assert_str_eq(strata_error_msg(err),
				 "--mount 'type=cache,target=/x,sharing=${S}x': unsupported sharing "
				 "value 'lockedx' (shared, private or locked)");
	}
}
END_TEST

START_TEST(test_mount_errors)
{
	mount_fails("type=cache,target=/c,foo=1", "--mount 'type=cache,target=/c,foo=1': "
						  "unexpected key 'foo'");
	mount_fails("type=nfs,target=/c", "--mount 'type=nfs,target=/c': unsupported mount type "
					  "'nfs' (bind, cache, tmpfs, secret or ssh)");
	mount_fails("type=cache", "--mount 'type=cache': type=cache needs a target");
	mount_fails("type=bind,source=x", "--mount 'type=bind,source=x': type=bind needs a target");
	mount_fails("type=tmpfs,target=/t,size=lots",
		    "--mount 'type=tmpfs,target=/t,size=lots': invalid size 'lots'");
	mount_fails("type=cache,target=/c,mode=99",
		    "--mount 'type=cache,target=/c,mode=99': invalid mode '99' (octal, at most 7777)");
	mount_fails("type=cache,target=/c,uid=-1",
		    "--mount 'type=cache,target=/c,uid=-1': invalid uid '-1'");
	mount_fails("type=bind,target=/b,ro=perhaps",
		    "--mount 'type=bind,target=/b,ro=perhaps': invalid value for ro: 'perhaps'");
	mount_fails("type=bind,target=/b,rw,ro", "--mount 'type=bind,target=/b,rw,ro': both ro "
						 "and rw given");
	mount_fails("type=tmpfs,target=/t,from=x",
		    "--mount 'type=tmpfs,target=/t,from=x': 'from' is not an option of type=tmpfs");
	mount_fails("type=bind,target=/b,sharing=locked",
		    "--mount 'type=bind,target=/b,sharing=locked': 'sharing' is not an option of "
		    "type=bind");
	mount_fails("type=cache,target=/c,size=1m",
		    "--mount 'type=cache,target=/c,size=1m': 'size' is not an option of type=cache");
	mount_fails("type=cache,target=/c,env=X",
		    "--mount 'type=cache,target=/c,env=X': 'env' is not an option of type=cache");
	mount_fails("type=secret", "--mount 'type=secret': type=secret needs an id or a target");
	mount_fails("type=bind,target=/b,nonsense",
		    "--mount 'type=bind,target=/b,nonsense': invalid field 'nonsense': must be a "
		    "key=value pair");
	mount_fails("type=bind,\"target=/b", "--mount 'type=bind,\"target=/b': unterminated quote");
	mount_fails("type=cache,target=", "--mount 'type=cache,target=': empty target");
	/* in a file: FILE:LINE, several --mount flags allowed */
	parse_fails("FROM a\nRUN --mount=type=cache,target=/a --mount=type=nfs true\n",
		    "Containerfile:2: RUN --mount 'type=nfs': unsupported mount type 'nfs' (bind, "
		    "cache, tmpfs, secret or ssh)");
	{
		struct recipe_file *f = parse_ok(
		    "FROM a\nRUN --mount=type=cache,target=/a --mount=type=bind,target=b "
		    "--network=none <<EOF\necho hi\nEOF\n");
		cleanup_strv char **all = recipe_instr_flag_all(&f->instrs[1], "mount");

		ck_assert_int_eq(strv_len(all), 2);
		ck_assert_str_eq(all[1], "type=bind,target=b");
		ck_assert_str_eq(recipe_instr_flag(&f->instrs[1], "network"), "none");
		ck_assert_int_eq(f->instrs[1].n_heredocs, 1);
		recipe_file_free(f);
	}
}
END_TEST

START_TEST(test_parse_onbuild_and_triggers)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_file *f = parse_ok("FROM a\nonbuild copy --chown=1 . /src\n");
	struct recipe_instr *t = NULL;
	cleanup_free char *s = NULL;

	ck_assert_int_eq(f->instrs[1].cmd, RECIPE_ONBUILD);
	ck_assert_str_eq(f->instrs[1].args[0], "copy --chown=1 . /src");
	ck_assert_int_eq(f->instrs[1].sub->cmd, RECIPE_COPY);
	ck_assert_str_eq(recipe_instr_flag(f->instrs[1].sub, "chown"), "1");
	s = recipe_instr_string(&f->instrs[1]);
	ck_assert_str_eq(s, "ONBUILD COPY --chown=1 . /src");
	recipe_file_free(f);

	ck_assert_ok(recipe_parse_trigger("RUN echo hi", "trigger 1", &t, &err), err);
	ck_assert_int_eq(t->cmd, RECIPE_RUN);
	recipe_instr_free(t);
	ck_assert_int_eq(recipe_parse_trigger("FROM x", "trigger 2", &t, &err), -1);
	ck_assert_str_eq(strata_error_msg(err),
			 "trigger 2:1: FROM isn't allowed as an ONBUILD trigger");
}
END_TEST

START_TEST(test_instr_string)
{
	struct recipe_file *f = parse_ok("FROM a\n"
					 "RUN [\"echo\", \"a b\"]\n"
					 "ENV A=\"x y\" B=1\n"
					 "COPY --chown=1:1 a /b\n"
					 "HEALTHCHECK --interval=1s CMD [\"true\"]\n"
					 "RUN <<EOF\nx\nEOF\n");
	const char *want[] = {"FROM a",
			      "RUN [\"echo\",\"a b\"]",
			      "ENV A=\"\\\"x y\\\"\" B=1",
			      "COPY --chown=1:1 a /b",
			      "HEALTHCHECK --interval=1s CMD [\"true\"]",
			      "RUN <<EOF\nx\nEOF"};

	for (size_t i = 0; i < f->n_instrs; i++) {
		cleanup_free char *s = recipe_instr_string(&f->instrs[i]);

		ck_assert_str_eq(s, want[i]);
	}
	recipe_file_free(f);
}
END_TEST

START_TEST(test_duration)
{
	int64_t ns;

	ck_assert_int_eq(recipe_duration_parse("30s", &ns), 0);
	ck_assert_int_eq(ns, 30000000000LL);
	ck_assert_int_eq(recipe_duration_parse("1m30s", &ns), 0);
	ck_assert_int_eq(ns, 90000000000LL);
	ck_assert_int_eq(recipe_duration_parse("1.5h", &ns), 0);
	ck_assert_int_eq(ns, 5400000000000LL);
	ck_assert_int_eq(recipe_duration_parse("250ms", &ns), 0);
	ck_assert_int_eq(ns, 250000000LL);
	ck_assert_int_eq(recipe_duration_parse("0", &ns), 0);
	ck_assert_int_eq(ns, 0);
	ck_assert_int_eq(recipe_duration_parse("10", &ns), -1);
	ck_assert_int_eq(recipe_duration_parse("s", &ns), -1);
	ck_assert_int_eq(recipe_duration_parse("1x", &ns), -1);
	ck_assert_int_eq(recipe_duration_parse("", &ns), -1);
	ck_assert_int_eq(recipe_duration_parse("1e9h", &ns), -1);
}
END_TEST

/* ---- variables ---- */

static char *expand(const char *w, const char *const *env, const char *const *args)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_vars v = {(char **)env, (char **)args};
	char *r = recipe_expand_word(w, '\\', &v, &err);

	ck_assert_msg(r != NULL, "expand '%s': %s", w, strata_error_msg(err));
	return r;
}

#define ck_expand(word, want, env, args)                                                           \
	do {                                                                                       \
		char *_r = expand(word, env, args);                                                \
		ck_assert_str_eq(_r, want);                                                        \
		free(_r);                                                                          \
	} while (0)

START_TEST(test_expand_word)
{
	const char *env[] = {"A=1", "E=", "SP=x  y", NULL};
	const char *args[] = {"B=2", "U", "A=arg", NULL};

	ck_expand("$A", "1", env, args);
	ck_expand("${A}x", "1x", env, args);
	ck_expand("$B$A", "21", env, args);
	ck_expand("$U", "", env, args);
	ck_expand("$NOPE-", "-", env, args);
	ck_expand("${NOPE:-def}", "def", env, args);
	ck_expand("${E:-def}", "def", env, args);
	ck_expand("${E-def}", "", env, args);
	ck_expand("${U-def}", "def", env, args);
	ck_expand("${A:+alt}", "alt", env, args);
	ck_expand("${E:+alt}", "", env, args);
	ck_expand("${E+alt}", "alt", env, args);
	ck_expand("${NOPE:-${B:-x}y}", "2y", env, args);
	ck_expand("\\$A", "$A", env, args);
	ck_expand("'$A b'", "$A b", env, args);
	ck_expand("\"$A \\\"q\\\" \\x\"", "1 \"q\" \\x", env, args);
	ck_expand("a\\ b", "a b", env, args);
	ck_expand("$", "$", env, args);
	ck_expand("a$ b", "a$ b", env, args);
	ck_expand("${A:?boom}", "1", env, args);
	ck_expand("trailing\\", "trailing", env, args);
	ck_expand("$1$@", "", env, args);
}
END_TEST

/* ${v#pat} ${v##pat} ${v%pat} ${v%%pat} ${v/pat/repl} ${v//pat/repl}, as a POSIX shell. */
START_TEST(test_expand_patterns)
{
	const char *env[] = {"P=/usr/local/lib/libfoo.so.1.2", "V=v1.22.3", "E=", NULL};
	const char *args[] = {"REF=refs/heads/main", "T=a-b-c", "STAR=*", NULL};

	ck_expand("${P#*/}", "usr/local/lib/libfoo.so.1.2", env, args);
	ck_expand("${P##*/}", "libfoo.so.1.2", env, args);
	ck_expand("${P%.*}", "/usr/local/lib/libfoo.so.1", env, args);
	ck_expand("${P%%.*}", "/usr/local/lib/libfoo", env, args);
	ck_expand("${V#v}", "1.22.3", env, args);
	ck_expand("${V%.[0-9]}", "v1.22", env, args);
	ck_expand("${V#x}", "v1.22.3", env, args);
	ck_expand("${REF#refs/heads/}", "main", env, args);
	ck_expand("${T/-/_}", "a_b-c", env, args);
	ck_expand("${T//-/_}", "a_b_c", env, args);
	ck_expand("${T//[ab]/X}", "X-X-c", env, args);
	ck_expand("${T/b*/Z}", "a-Z", env, args);
	ck_expand("${T/#a/Z}", "a-b-c", env, args);
	ck_expand("${V//./}", "v1223", env, args);
	ck_expand("${NOPE#x}y", "y", env, args);
	ck_expand("${E%%*}", "", env, args);
	ck_expand("${P##*/lib}", "foo.so.1.2", env, args);
	ck_expand("${V#${V%%.*}.}", "22.3", env, args);
	ck_expand("${T/-/$V}", "av1.22.3b-c", env, args);
}
END_TEST

START_TEST(test_expand_errors)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_vars v = {NULL, NULL};
	char *r;
	char deep[512] = "";

	r = recipe_expand_word("${X:?is required}", '\\', &v, &err);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(strata_error_msg(err), "X: is required");
	strata_error_free(err);
	err = NULL;
	r = recipe_expand_word("${X?}", '\\', &v, &err);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(strata_error_msg(err), "X: is not allowed to be unset");
	strata_error_free(err);
	err = NULL;
	r = recipe_expand_word("${X", '\\', &v, &err);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(strata_error_msg(err), "syntax error: missing '}'");
	strata_error_free(err);
	err = NULL;
	/* Nesting is bounded, not recursed into without end. */
	for (int i = 0; i < 100; i++)
		memcpy(deep + 5 * i, "${a:-", 5);
	r = recipe_expand_word(deep, '\\', &v, &err);
	ck_assert_ptr_null(r);
	ck_assert_str_eq(strata_error_msg(err), "syntax error: substitution nested too deeply");
}
END_TEST

START_TEST(test_expand_words)
{
	cleanup_error struct strata_error *err = NULL;
	const char *env[] = {"P=80 443", NULL};
	struct recipe_vars v = {(char **)env, NULL};
	cleanup_strv char **w = recipe_expand_words("$P \"8 0\" ''", '\\', &v, &err);
	cleanup_free char *h = NULL;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(strv_len(w), 4);
	ck_assert_str_eq(w[0], "80");
	ck_assert_str_eq(w[1], "443");
	ck_assert_str_eq(w[2], "8 0");
	ck_assert_str_eq(w[3], "");
	h = recipe_expand_heredoc("port \"$P\" \\$P \\n '$P'\n", '\\', &v, &err);
	ck_assert_str_eq(h, "port \"80 443\" $P \\n '80 443'\n");
}
END_TEST

START_TEST(test_vars_env_beats_arg)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_vars v = {NULL, NULL};
	bool is_set;

	recipe_vars_set(&v.args, "X", "from-arg");
	recipe_vars_set(&v.args, "Y", NULL);
	ck_assert_str_eq(recipe_vars_get(&v, "X", &is_set), "from-arg");
	ck_assert(is_set);
	recipe_vars_get(&v, "Y", &is_set);
	ck_assert(!is_set);
	recipe_vars_set(&v.env, "X", "from-env");
	recipe_vars_set(&v.args, "X", "again");
	ck_assert_str_eq(recipe_vars_get(&v, "X", &is_set), "from-env");
	recipe_vars_set(&v.env, "X", "second");
	ck_assert_int_eq(strv_len(v.env), 1);
	ck_assert_str_eq(recipe_vars_get(&v, "X", &is_set), "second");
	recipe_vars_release(&v);
}
END_TEST

START_TEST(test_instr_expand)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_file *f = parse_ok("FROM a\n"
					 "COPY --chown=$U:$U --from=$S ${SRC}/* \"$D/dir/\"\n"
					 "ENV $K=\"$V w\" OLD=$V\n"
					 "EXPOSE $PORTS 22\n"
					 "RUN echo $V\n"
					 "VOLUME $D\n"
					 "COPY <<EOF <<'RAW' /x/\nv=$V\nEOF\nv=$V\nRAW\n");
	const char *env[] = {"U=1000", "S=build", "SRC=src",	  "D=/d",
			     "K=KEY",  "V=val",	  "PORTS=80 443", NULL};
	struct recipe_vars v = {(char **)env, NULL};
	struct recipe_instr *x = NULL;

	ck_assert_ok(recipe_instr_expand(&f->instrs[1], "F", '\\', &v, &x, &err), err);
	ck_assert_str_eq(recipe_instr_flag(x, "chown"), "1000:1000");
	ck_assert_str_eq(recipe_instr_flag(x, "from"), "build");
	ck_assert_str_eq(x->args[0], "src/*");
	ck_assert_str_eq(x->args[1], "/d/dir/");
	recipe_instr_free(x);
	ck_assert_ok(recipe_instr_expand(&f->instrs[2], "F", '\\', &v, &x, &err), err);
	ck_assert_str_eq(x->kvs[0].key, "KEY");
	ck_assert_str_eq(x->kvs[0].value, "val w");
	ck_assert_str_eq(x->kvs[1].value, "val");
	recipe_instr_free(x);
	ck_assert_ok(recipe_instr_expand(&f->instrs[3], "F", '\\', &v, &x, &err), err);
	ck_assert_int_eq(x->n_args, 3);
	ck_assert_str_eq(x->args[1], "443");
	recipe_instr_free(x);
	ck_assert_ok(recipe_instr_expand(&f->instrs[4], "F", '\\', &v, &x, &err), err);
	ck_assert_str_eq(x->args[0], "echo $V");
	recipe_instr_free(x);
	ck_assert_ok(recipe_instr_expand(&f->instrs[6], "F", '\\', &v, &x, &err), err);
	ck_assert_str_eq(x->heredocs[0].content, "v=val\n");
	ck_assert_str_eq(x->heredocs[1].content, "v=$V\n");
	recipe_instr_free(x);

	/* An empty VOLUME after expansion is an error with the line. */
	v.env = NULL;
	ck_assert_int_eq(recipe_instr_expand(&f->instrs[5], "F", '\\', &v, &x, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), "F:6: VOLUME specified can not be an empty string");
	recipe_file_free(f);
}
END_TEST

/* ---- stages and ARG scoping ---- */

static struct recipe_plan *plan_ok(struct recipe_file *f, const char **args, const char *target)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_plan *p = NULL;

	ck_assert_ok(recipe_plan_new(f, (char **)args, target, &p, &err), err);
	return p;
}

START_TEST(test_plan_stages)
{
	struct recipe_file *f = parse_ok("ARG BASE=busybox\n"
					 "ARG TAG\n"
					 "FROM ${BASE}:${TAG:-1} AS Build\n"
					 "RUN make\n"
					 "FROM scratch AS unused\n"
					 "COPY x y\n"
					 "FROM build AS test\n"
					 "FROM alpine\n"
					 "ARG WHICH=test\n"
					 "COPY --from=$WHICH /a /b\n"
					 "COPY --from=0 /c /d\n");
	struct recipe_plan *p = plan_ok(f, NULL, NULL);

	ck_assert_int_eq(p->n_stages, 4);
	ck_assert_str_eq(p->stages[0].base, "busybox:1");
	ck_assert_str_eq(p->stages[0].name, "build");
	ck_assert_int_eq(p->stages[0].n_instrs, 1);
	ck_assert_int_eq(p->stages[0].base_stage, -1);
	ck_assert_int_eq(p->stages[2].base_stage, 0);
	ck_assert_ptr_null(p->stages[3].name);
	ck_assert_int_eq(p->target, 3);
	ck_assert(p->stages[0].is_needed);
	ck_assert(!p->stages[1].is_needed);
	ck_assert(p->stages[2].is_needed);
	ck_assert(p->stages[3].is_needed);
	ck_assert_int_eq(recipe_plan_find_stage(p, "BUILD", 4), 0);
	ck_assert_int_eq(recipe_plan_find_stage(p, "1", 4), 1);
	ck_assert_int_eq(recipe_plan_find_stage(p, "test", 2), -1);
	ck_assert_int_eq(recipe_plan_find_stage(p, "alpine", 4), -1);
	recipe_plan_free(p);

	/* --target picks the stage and what it needs, nothing after. */
	{
		const char *args[] = {"TAG=2", "BASE=debian", NULL};

		p = plan_ok(f, args, "Unused");
		ck_assert_str_eq(p->stages[0].base, "debian:2");
		ck_assert_int_eq(p->target, 1);
		ck_assert(!p->stages[0].is_needed);
		ck_assert(p->stages[1].is_needed);
		ck_assert(!p->stages[3].is_needed);
		recipe_plan_free(p);
	}
	{
		cleanup_error struct strata_error *err = NULL;

		ck_assert_int_eq(recipe_plan_new(f, NULL, "nope", &p, &err), -1);
		ck_assert_str_eq(strata_error_msg(err), "target stage 'nope' could not be found");
	}
	recipe_file_free(f);
}
END_TEST

START_TEST(test_plan_errors)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_file *f = parse_ok("FROM a AS x\nFROM b AS x\n");
	struct recipe_plan *p = NULL;

	ck_assert_int_eq(recipe_plan_new(f, NULL, NULL, &p, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), "Containerfile:2: duplicate stage name 'x'");
	recipe_file_free(f);
	strata_error_free(err);
	err = NULL;
	f = parse_ok("ARG B\nFROM $B\n");
	ck_assert_int_eq(recipe_plan_new(f, NULL, NULL, &p, &err), -1);
	ck_assert_str_eq(strata_error_msg(err),
			 "Containerfile:2: base name should not be blank: '$B'");
	recipe_file_free(f);
}
END_TEST

START_TEST(test_plan_arg_scoping)
{
	struct recipe_file *f = parse_ok("ARG META=m1\n"
					 "ARG OTHER=o1\n"
					 "FROM a\n"
					 "ARG META\n"
					 "ARG LOCAL=l1 GIVEN=g1 NODEF\n"
					 "ARG TARGETARCH\n");
	const char *args[] = {"GIVEN=cli", "UNDECLARED=1", "HTTP_PROXY=http://p", NULL};
	struct recipe_plan *p = plan_ok(f, args, NULL);
	struct recipe_vars v;
	cleanup_strv char **used = xcalloc(1, sizeof(char *));
	cleanup_strv char **unused = NULL;
	bool is_set;

	recipe_plan_stage_vars(p, &v);
	/* Meta ARGs are not in a stage until declared there; proxies need no declaration. */
	recipe_vars_get(&v, "META", &is_set);
	ck_assert(!is_set);
	ck_assert_str_eq(recipe_vars_get(&v, "HTTP_PROXY", &is_set), "http://p");
	for (size_t i = 0; i < p->stages[0].n_instrs; i++)
		recipe_plan_apply_arg(p, p->stages[0].instrs[i], &v, &used);
	ck_assert_str_eq(recipe_vars_get(&v, "META", &is_set), "m1");
	recipe_vars_get(&v, "OTHER", &is_set);
	ck_assert(!is_set);
	ck_assert_str_eq(recipe_vars_get(&v, "LOCAL", &is_set), "l1");
	ck_assert_str_eq(recipe_vars_get(&v, "GIVEN", &is_set), "cli");
	recipe_vars_get(&v, "NODEF", &is_set);
	ck_assert(!is_set);
	ck_assert_str_eq(recipe_vars_get(&v, "TARGETARCH", &is_set), store_arch());
	/* ENV wins over ARG. */
	recipe_vars_set(&v.env, "LOCAL", "env");
	ck_assert_str_eq(recipe_vars_get(&v, "LOCAL", &is_set), "env");
	unused = recipe_plan_unused_args(p, used);
	ck_assert_int_eq(strv_len(unused), 1);
	ck_assert_str_eq(unused[0], "UNDECLARED");
	recipe_vars_release(&v);
	recipe_plan_free(p);
	recipe_file_free(f);
}
END_TEST

/* ---- ignore files and globs ---- */

static struct recipe_ignore *ignore_ok(const char *text)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_ignore *ig = NULL;

	ck_assert_ok(recipe_ignore_parse(text, strlen(text), ".dockerignore", &ig, &err), err);
	return ig;
}

/*
 * A file of 20,000 instructions, a LABEL of 20,000 pairs, a RUN of 500 heredocs
 * and a .dockerignore of 20,000 patterns: the arrays grow geometrically (one
 * element at a time, each append copied them all and this ran out of its
 * timeout under AddressSanitizer).
 */
START_TEST(test_parse_large_inputs)
{
	struct sbuf t = SBUF_INIT;
	struct recipe_file *f;
	struct recipe_plan *p;
	struct recipe_ignore *ig;

	sbuf_addstr(&t, "FROM scratch\nLABEL");
	for (int i = 0; i < 20000; i++)
		sbuf_addf(&t, " k%d=v%d", i, i);
	sbuf_addstr(&t, "\nRUN");
	for (int i = 0; i < 500; i++)
		sbuf_addf(&t, " <<E%d", i);
	sbuf_addstr(&t, "\n");
	for (int i = 0; i < 500; i++)
		sbuf_addf(&t, "body %d\nE%d\n", i, i);
	for (int i = 0; i < 20000; i++)
		sbuf_addf(&t, "LABEL l%d=x\n", i);
	f = parse_ok(t.buf);
	ck_assert_uint_eq(f->n_instrs, 20003);
	ck_assert_uint_eq(f->instrs[1].n_kvs, 20000);
	ck_assert_str_eq(f->instrs[1].kvs[19999].value, "v19999");
	ck_assert_uint_eq(f->instrs[2].n_heredocs, 500);
	ck_assert_str_eq(f->instrs[2].heredocs[499].content, "body 499\n");
	ck_assert_str_eq(f->instrs[20002].kvs[0].key, "l19999");
	p = plan_ok(f, NULL, NULL);
	ck_assert_uint_eq(p->stages[0].n_instrs, 20002);
	recipe_plan_free(p);
	recipe_file_free(f);
	sbuf_release(&t);
	for (int i = 0; i < 20000; i++)
		sbuf_addf(&t, "d%d\n", i);
	ig = ignore_ok(t.buf);
	ck_assert(recipe_ignore_match(ig, "d19999"));
	ck_assert(!recipe_ignore_match(ig, "d20000"));
	recipe_ignore_free(ig);
	sbuf_release(&t);
}
END_TEST

START_TEST(test_ignore_rules)
{
	struct recipe_ignore *ig = ignore_ok("# comment\n"
					     "\n"
					     "*.md\n"
					     "!README.md\n"
					     "**/*.o\n"
					     "  /build/  \n"
					     "!build/keep\n"
					     "tmp?\n"
					     "docs/**\n"
					     "x/./y/../z\n");

	ck_assert(recipe_ignore_match(ig, "notes.md"));
	ck_assert(!recipe_ignore_match(ig, "README.md"));
	ck_assert(!recipe_ignore_match(ig, "sub/notes.md")); /* '*' does not cross '/' */
	ck_assert(recipe_ignore_match(ig, "a.o"));
	ck_assert(recipe_ignore_match(ig, "deep/er/a.o"));
	ck_assert(recipe_ignore_match(ig, "build"));
	ck_assert(recipe_ignore_match(ig, "build/out/bin")); /* a parent matches */
	ck_assert(!recipe_ignore_match(ig, "build/keep"));
	ck_assert(recipe_ignore_match(ig, "tmp1"));
	ck_assert(!recipe_ignore_match(ig, "tmp12"));
	ck_assert(recipe_ignore_match(ig, "docs/a/b"));
	ck_assert(!recipe_ignore_match(ig, "docs"));
	ck_assert(recipe_ignore_match(ig, "x/z"));
	ck_assert(!recipe_ignore_match(ig, "src/main.c"));
	ck_assert(recipe_ignore_has_exceptions(ig));
	recipe_ignore_free(ig);

	/* The last matching pattern decides. */
	ig = ignore_ok("!keep\nkeep\n");
	ck_assert(recipe_ignore_match(ig, "keep"));
	recipe_ignore_free(ig);
	ig = ignore_ok("*\n!src\nsrc/*.tmp\n");
	ck_assert(recipe_ignore_match(ig, "Containerfile"));
	ck_assert(!recipe_ignore_match(ig, "src"));
	ck_assert(!recipe_ignore_match(ig, "src/a.c"));
	ck_assert(recipe_ignore_match(ig, "src/a.tmp"));
	ck_assert(!recipe_ignore_has_exceptions(NULL));
	recipe_ignore_free(ig);
	ig = ignore_ok("**\n");
	ck_assert(recipe_ignore_match(ig, "a/b/c"));
	recipe_ignore_free(ig);
	/* an excluded directory is walked only for an exception beginning with its path */
	ig = ignore_ok("subdir\n!*/sub1*\nkeep\n!keep/a.txt\n/lead\n!lead/x/y\n");
	ck_assert(!recipe_ignore_may_reinclude(ig, "subdir"));
	ck_assert(recipe_ignore_may_reinclude(ig, "keep"));
	ck_assert(!recipe_ignore_may_reinclude(ig, "kee"));
	ck_assert(recipe_ignore_may_reinclude(ig, "lead"));
	ck_assert(recipe_ignore_may_reinclude(ig, "lead/x"));
	ck_assert(recipe_ignore_match(ig, "lead/z"));
	ck_assert(!recipe_ignore_match(ig, "lead/x/y"));
	ck_assert(!recipe_ignore_may_reinclude(NULL, "keep"));
	recipe_ignore_free(ig);
	/* "**" then plain text: a suffix test, as moby's matcher */
	ig = ignore_ok("**.txt\n**/only\n");
	ck_assert(recipe_ignore_match(ig, "a/b.txt"));
	ck_assert(recipe_ignore_match(ig, "b.txt"));
	ck_assert(recipe_ignore_match(ig, "only"));
	ck_assert(recipe_ignore_match(ig, "x/y/only"));
	ck_assert(!recipe_ignore_match(ig, "x/yonly"));
	recipe_ignore_free(ig);
	ig = ignore_ok("a[^x]b\n");
	ck_assert(recipe_ignore_match(ig, "a/b"));
	ck_assert(!recipe_ignore_match(ig, "axb"));
	recipe_ignore_free(ig);
	ig = ignore_ok("a/**/b\n");
	ck_assert(recipe_ignore_match(ig, "a/b"));
	ck_assert(recipe_ignore_match(ig, "a/x/y/b"));
	ck_assert(!recipe_ignore_match(ig, "a/xb"));
	recipe_ignore_free(ig);
	{
		cleanup_error struct strata_error *err = NULL;

		ck_assert_int_eq(recipe_ignore_parse("a\n!\n", 4, ".dockerignore", &ig, &err), -1);
		ck_assert_str_eq(strata_error_msg(err),
				 ".dockerignore:2: illegal exclusion pattern: '!'");
		strata_error_free(err);
		err = NULL;
		ck_assert_int_eq(recipe_ignore_parse("[a-\n", 4, ".dockerignore", &ig, &err), -1);
		ck_assert_str_eq(strata_error_msg(err),
				 ".dockerignore:1: syntax error in pattern '[a-'");
		/* moby checks each pattern with Go's filepath.Match: its syntax errors too */
		for (size_t i = 0; i < 6; i++) {
			static const char *const bad[] = { "a\\\n", "[]a]\n", "[-a]\n", "[a-]\n",
							   "x[a-b-c]\n", "q[z-a]\n" };

			strata_error_free(err);
			err = NULL;
			ck_assert_int_eq(recipe_ignore_parse(bad[i], strlen(bad[i]), ".dockerignore",
							     &ig, &err),
					 -1);
			ck_assert_int_eq(strata_error_code(err), EINVAL);
		}
	}
	/* what Go's Match allows: an escaped ']' or '-'; an empty range in a glob */
	ig = ignore_ok("[\\]x]\n[\\-]\n");
	ck_assert(recipe_ignore_match(ig, "]"));
	ck_assert(recipe_ignore_match(ig, "x"));
	ck_assert(recipe_ignore_match(ig, "-"));
	ck_assert_int_eq(recipe_glob_match("q[z-a]", "qq"), 0);
	recipe_ignore_free(ig);
}
END_TEST

START_TEST(test_glob)
{
	/* A source keeps an escaped glob character escaped for the matcher. */
	{
		cleanup_error struct strata_error *err = NULL;
		cleanup_free char *w = recipe_expand_glob_word("n\\?pe/\\*.txt", '\\', NULL, &err);
		cleanup_free char *b = recipe_expand_glob_word("n`?pe", '`', NULL, &err);

		ck_assert_str_eq(w, "n\\?pe/\\*.txt");
		ck_assert_str_eq(b, "n\\?pe");
		ck_assert_int_eq(recipe_glob_match(w, "n?pe/*.txt"), 1);
		ck_assert_int_eq(recipe_glob_match(w, "nope/*.txt"), 0);
	}
	ck_assert_int_eq(recipe_glob_match("*.c", "main.c"), 1);
	ck_assert_int_eq(recipe_glob_match("*.c", "src/main.c"), 0);
	ck_assert_int_eq(recipe_glob_match("*", ".hidden"), 1);
	ck_assert_int_eq(recipe_glob_match("?at", "cat"), 1);
	ck_assert_int_eq(recipe_glob_match("[a-c]at", "bat"), 1);
	ck_assert_int_eq(recipe_glob_match("[^a-c]at", "bat"), 0);
	ck_assert_int_eq(recipe_glob_match("[^a-c]at", "rat"), 1);
	ck_assert_int_eq(recipe_glob_match("\\*", "*"), 1);
	ck_assert_int_eq(recipe_glob_match("[]a]", "a"), -1);
	ck_assert_int_eq(recipe_glob_match("[a-]", "a"), -1);
	ck_assert_int_eq(recipe_glob_match("a\\", "a"), -1);
	ck_assert_int_eq(recipe_glob_match("\\*", "a"), 0);
	ck_assert_int_eq(recipe_glob_match("a*b*c", "aXbYc"), 1);
	ck_assert_int_eq(recipe_glob_match("[", "a"), -1);
	ck_assert_int_eq(recipe_glob_match("a\\", "a"), -1);
	/* No exponential backtracking. */
	ck_assert_int_eq(
	    recipe_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b",
			      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	    0);
	ck_assert(recipe_glob_has_magic("a/*.c"));
	ck_assert(!recipe_glob_has_magic("a/b.c"));
}
END_TEST

/* ---- context sources and cache keys ---- */

static char *ctx_dir;
static int ctx_fd = -1;

static void ctx_setup(void)
{
	ctx_dir = unit_scratch();
	ck_assert_int_eq(unit_sh("cd '%s' && mkdir -p src/sub build && echo a >a.txt && "
				 "echo b >b.txt && echo c >src/c.c && echo d >src/sub/d.c && "
				 "echo o >build/out && echo k >build/keep && ln -s a.txt link && "
				 "ln -s ../../../etc/passwd escape && echo n >notes.md",
				 ctx_dir),
			 0);
	ctx_fd = open(ctx_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ctx_fd, 0);
}

static void ctx_teardown(void)
{
	close(ctx_fd);
	ctx_fd = -1;
	unit_scratch_cleanup(ctx_dir);
	ctx_dir = NULL;
}

static void collect(const struct recipe_ignore *ig, const char **srcs, struct recipe_sources *s)
{
	cleanup_error struct strata_error *err = NULL;

	ck_assert_ok(recipe_sources_collect(ctx_fd, ig, (char **)srcs, s, &err), err);
}

static void sources_digest_of(const struct recipe_ignore *ig, const char **srcs,
			      char out[DIGEST_STR_LEN])
{
	struct recipe_sources s;

	collect(ig, srcs, &s);
	recipe_sources_digest(&s, out);
	recipe_sources_release(&s);
}

START_TEST(test_sources_collect)
{
	struct recipe_ignore *ig = ignore_ok("*.md\nbuild\n!build/keep\n");
	const char *srcs[] = {"*.txt", "src", "link", "build", NULL};
	struct recipe_sources s;

	collect(ig, srcs, &s);
	ck_assert_int_eq(s.n_matched, 5);
	ck_assert_str_eq(s.matched[0], "a.txt");
	ck_assert_str_eq(s.matched[1], "b.txt");
	ck_assert_str_eq(s.matched[2], "src");
	ck_assert(s.is_dir[2]);
	ck_assert_str_eq(s.matched[3], "link");
	ck_assert(!s.is_dir[3]);
	ck_assert_str_eq(s.matched[4], "build");
	/* Sorted by path: a.txt b.txt build build/keep link src src/c.c src/sub src/sub/d.c */
	ck_assert_int_eq(s.n_entries, 9);
	ck_assert_str_eq(s.entries[2].path, "build");
	ck_assert_str_eq(s.entries[3].path, "build/keep");
	ck_assert_str_eq(s.entries[3].rel, "keep");
	ck_assert_str_eq(s.entries[4].path, "link");
	/* The source itself is followed: the content of a.txt. */
	ck_assert(S_ISREG(s.entries[4].mode));
	ck_assert_str_eq(s.entries[4].digest, s.entries[0].digest);
	ck_assert_str_eq(s.entries[8].path, "src/sub/d.c");
	ck_assert_str_eq(s.entries[8].rel, "sub/d.c");
	recipe_sources_release(&s);
	recipe_ignore_free(ig);
}
END_TEST

/* A directory of 5,000 files, as a glob's matches and as one source's tree. */
START_TEST(test_sources_many_files)
{
	const char *glob[] = {"many/*", NULL};
	const char *dir[] = {"many", NULL};
	struct recipe_sources s;

	ck_assert_int_eq(unit_sh("cd '%s' && mkdir many && cd many && seq 5000 | xargs touch",
				 ctx_dir),
			 0);
	collect(NULL, glob, &s);
	ck_assert_uint_eq(s.n_matched, 5000);
	ck_assert_ptr_null(s.matched[5000]);
	for (size_t i = 0; i < s.n_matched; i++) {
		ck_assert(str_has_prefix(s.matched[i], "many/"));
		ck_assert(!s.is_dir[i]);
	}
	ck_assert_uint_eq(s.n_entries, 5000);
	recipe_sources_release(&s);
	collect(NULL, dir, &s);
	ck_assert_uint_eq(s.n_matched, 1);
	ck_assert(s.is_dir[0]);
	ck_assert_uint_eq(s.n_entries, 5001);
	ck_assert_str_eq(s.entries[1].path, "many/1");
	ck_assert_str_eq(s.entries[5000].path, "many/999");
	recipe_sources_release(&s);
}
END_TEST

START_TEST(test_sources_errors)
{
	cleanup_error struct strata_error *err = NULL;
	struct recipe_ignore *ig = ignore_ok("*.md\n");
	struct recipe_sources s;
	const char *missing[] = {"nope", NULL};
	const char *noglob[] = {"*.zip", NULL};
	const char *outside[] = {"../x", NULL};
	const char *ignored[] = {"notes.md", NULL};
	const char *escape[] = {"escape", NULL};

	ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig, (char **)missing, &s, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	strata_error_free(err);
	err = NULL;
	ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig, (char **)noglob, &s, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), "no files match '*.zip' in the build context");
	strata_error_free(err);
	err = NULL;
	ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig, (char **)outside, &s, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), "forbidden path outside the build context: '../x'");
	strata_error_free(err);
	err = NULL;
	ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig, (char **)ignored, &s, &err), -1);
	ck_assert_str_eq(strata_error_msg(err), "'notes.md' is excluded by the ignore file");
	strata_error_free(err);
	err = NULL;
	{
		struct recipe_ignore *ig2 = ignore_ok("*.md\nsrc\n!build\n");

		ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig2, (char **)ignored, &s, &err),
				 -1);
		ck_assert_str_eq(strata_error_msg(err),
				 "'notes.md' is excluded by the ignore file");
		strata_error_free(err);
		err = NULL;
		ignored[0] = "src";
		ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig2, (char **)ignored, &s, &err),
				 -1);
		ck_assert_str_eq(strata_error_msg(err), "'src' is excluded by the ignore file");
		strata_error_free(err);
		err = NULL;
		recipe_ignore_free(ig2);
	}
	/* A symlink pointing out of the context resolves inside it (to a missing file). */
	ck_assert_int_eq(recipe_sources_collect(ctx_fd, ig, (char **)escape, &s, &err), -1);
	ck_assert_int_eq(strata_error_code(err), ENOENT);
	recipe_ignore_free(ig);
}
END_TEST

START_TEST(test_sources_digest)
{
	const char *srcs[] = {"src", "a.txt", NULL};
	const char *other[] = {"a.txt", "src", NULL};
	char d1[DIGEST_STR_LEN], d2[DIGEST_STR_LEN], d3[DIGEST_STR_LEN];
	struct recipe_ignore *ig = ignore_ok("src/sub\n");

	sources_digest_of(NULL, srcs, d1);
	/* mtime alone changes nothing. */
	ck_assert_int_eq(unit_sh("touch -d '2001-01-01' '%s/src/c.c'", ctx_dir), 0);
	sources_digest_of(NULL, srcs, d2);
	ck_assert_str_eq(d1, d2);
	/* Content, mode, an added file, the order of sources and ignore rules do. */
	ck_assert_int_eq(unit_sh("echo changed >'%s/src/c.c'", ctx_dir), 0);
	sources_digest_of(NULL, srcs, d2);
	ck_assert_str_ne(d1, d2);
	ck_assert_int_eq(unit_sh("chmod 0600 '%s/src/c.c'", ctx_dir), 0);
	sources_digest_of(NULL, srcs, d3);
	ck_assert_str_ne(d2, d3);
	ck_assert_int_eq(unit_sh("touch '%s/src/new'", ctx_dir), 0);
	sources_digest_of(NULL, srcs, d2);
	ck_assert_str_ne(d2, d3);
	sources_digest_of(NULL, other, d3);
	ck_assert_str_ne(d2, d3);
	sources_digest_of(ig, srcs, d3);
	ck_assert_str_ne(d2, d3);
	recipe_ignore_free(ig);
}
END_TEST

START_TEST(test_cache_key)
{
	char k1[DIGEST_STR_LEN], k2[DIGEST_STR_LEN];

	recipe_cache_key("sha256:parent", "RUN make", NULL, k1);
	ck_assert(digest_is_valid(k1));
	recipe_cache_key("sha256:parent", "RUN make", "", k2);
	ck_assert_str_eq(k1, k2);
	recipe_cache_key("sha256:other", "RUN make", NULL, k2);
	ck_assert_str_ne(k1, k2);
	recipe_cache_key("sha256:parent", "RUN make ", NULL, k2);
	ck_assert_str_ne(k1, k2);
	recipe_cache_key("sha256:parent", "RUN make", "sources", k2);
	ck_assert_str_ne(k1, k2);
	/* Fields are delimited: moving text between them changes the key. */
	recipe_cache_key("sha256:parentRUN", " make", NULL, k2);
	ck_assert_str_ne(k1, k2);
}
END_TEST

/* ---- image configs ---- */

/* Applies the instructions of @text (after its FROM) to a fresh config. */
static json_t *config_after(const char *text, struct strata_error **err, int *ret)
{
	struct recipe_file *f = parse_ok(text);
	json_t *config = store_config_new(0);
	bool cmd_set = false;

	*ret = 0;
	json_object_set_new(json_object_get(config, "config"), "Cmd", json_pack("[s]", "base"));
	for (size_t i = 1; i < f->n_instrs && *ret == 0; i++) {
		struct recipe_instr *x = NULL;

		*ret = recipe_instr_expand(&f->instrs[i], "F", '\\', NULL, &x, err);
		if (*ret == 0)
			*ret = recipe_config_apply(config, x, "F", &cmd_set, err);
		recipe_instr_free(x);
	}
	recipe_file_free(f);
	return config;
}

static char *config_get(json_t *config, const char *key)
{
	json_t *v = json_object_get(json_object_get(config, "config"), key);

	return v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : xstrdup("null");
}

#define ck_config(config, key, want)                                                               \
	do {                                                                                       \
		char *_v = config_get(config, key);                                                \
		ck_assert_str_eq(_v, want);                                                        \
		free(_v);                                                                          \
	} while (0)

START_TEST(test_config_apply)
{
	cleanup_error struct strata_error *err = NULL;
	int r;
	json_t *c = config_after("FROM a\n"
				 "ENV A=1 B=2\n"
				 "ENV A=3\n"
				 "LABEL x=y\n"
				 "EXPOSE 80 53/UDP 7000-7001\n"
				 "VOLUME /v\n"
				 "USER app\n"
				 "WORKDIR /w\n"
				 "WORKDIR sub/../x\n"
				 "SHELL [\"/bin/bash\", \"-c\"]\n"
				 "CMD echo hi\n"
				 "STOPSIGNAL 9\n"
				 "HEALTHCHECK --interval=2s --retries=3 CMD curl x\n"
				 "ONBUILD RUN make\n"
				 "MAINTAINER me\n",
				 &err, &r);

	ck_assert_ok(r, err);
	ck_config(c, "Env", "[\"A=3\",\"B=2\"]");
	ck_config(c, "Labels", "{\"x\":\"y\"}");
	ck_config(c, "ExposedPorts", "{\"80/tcp\":{},\"53/udp\":{},\"7000/tcp\":{},\"7001/tcp\":{}}");
	ck_config(c, "Volumes", "{\"/v\":{}}");
	ck_config(c, "User", "\"app\"");
	ck_config(c, "WorkingDir", "\"/w/x\"");
	ck_config(c, "Cmd", "[\"/bin/bash\",\"-c\",\"echo hi\"]");
	ck_config(c, "StopSignal", "\"9\"");
	ck_config(c, "Healthcheck",
		  "{\"Test\":[\"CMD-SHELL\",\"curl x\"],\"Interval\":2000000000,\"Retries\":3}");
	ck_config(c, "OnBuild", "[\"RUN make\"]");
	ck_assert_str_eq(jv_str(c, "author"), "me");
	json_decref(c);

	/* ENTRYPOINT drops an inherited CMD, but not one this stage set. */
	c = config_after("FROM a\nENTRYPOINT [\"e\"]\n", &err, &r);
	ck_assert_ok(r, err);
	ck_config(c, "Cmd", "null");
	ck_config(c, "Entrypoint", "[\"e\"]");
	json_decref(c);
	c = config_after("FROM a\nCMD [\"c\"]\nENTRYPOINT e\n", &err, &r);
	ck_assert_ok(r, err);
	ck_config(c, "Cmd", "[\"c\"]");
	ck_config(c, "Entrypoint", "[\"/bin/sh\",\"-c\",\"e\"]");
	json_decref(c);
	c = config_after("FROM a\nHEALTHCHECK NONE\n", &err, &r);
	ck_config(c, "Healthcheck", "{\"Test\":[\"NONE\"]}");
	json_decref(c);
}
END_TEST

START_TEST(test_config_errors)
{
	cleanup_error struct strata_error *err = NULL;
	int r;
	json_t *c = config_after("FROM a\nEXPOSE 80/bogus\n", &err, &r);

	ck_assert_int_eq(r, -1);
	ck_assert_str_eq(strata_error_msg(err), "F:2: invalid proto 'bogus' in EXPOSE");
	json_decref(c);
	strata_error_free(err);
	err = NULL;
	c = config_after("FROM a\nEXPOSE 70000\n", &err, &r);
	ck_assert_str_eq(strata_error_msg(err), "F:2: invalid port '70000' in EXPOSE");
	json_decref(c);
	strata_error_free(err);
	err = NULL;
	c = config_after("FROM a\nSTOPSIGNAL SIGBOGUS\n", &err, &r);
	ck_assert_str_eq(strata_error_msg(err), "F:2: invalid signal 'SIGBOGUS'");
	json_decref(c);
	ck_assert(recipe_cmd_is_config_only(RECIPE_ENV));
	ck_assert(!recipe_cmd_is_config_only(RECIPE_WORKDIR));
	ck_assert(!recipe_cmd_is_config_only(RECIPE_RUN));
}
END_TEST

START_TEST(test_history_created_by)
{
	struct recipe_file *f = parse_ok("FROM a\nRUN make all\nRUN [\"a\", \"b\"]\nENV A=1\n");
	json_t *c = store_config_new(0);
	const char *want[] = { "/bin/sh -c make all", "a b", "/bin/sh -c #(nop) ENV A=1" };

	for (size_t i = 1; i < f->n_instrs; i++) {
		cleanup_free char *by = recipe_history_created_by(c, &f->instrs[i]);

		ck_assert_str_eq(by, want[i - 1]);
	}
	json_decref(c);
	recipe_file_free(f);
}
END_TEST

/* ---- the fuzz corpus ---- */

START_TEST(test_fuzz_corpus)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cleanup_free char *dir = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int count = 0;

	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	/* BUILD/tests/test-recipe -> the top of the tree */
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	*strrchr(exe, '/') = '\0';
	dir = xasprintf("%s/tests/fuzz/corpus/recipe", exe);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "open '%s'", dir);
	while ((de = readdir(d))) {
		cleanup_free char *path = NULL;
		cleanup_free char *buf = NULL;
		cleanup_error struct strata_error *err = NULL;
		size_t len = 0;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		ck_assert_ok(file_read_at(AT_FDCWD, path, 1 << 20, &buf, &len, &err), err);
		ck_assert_int_eq(LLVMFuzzerTestOneInput((const uint8_t *)buf, len), 0);
		count++;
	}
	ck_assert_int_ge(count, 5);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("recipe");
	TCase *tc;

	tc = tcase_create("parser");
	tcase_add_test(tc, test_parse_basic);
	tcase_add_test(tc, test_parse_continuation);
	tcase_add_test(tc, test_parse_escape_directive);
	tcase_add_test(tc, test_parse_heredoc);
	tcase_add_test(tc, test_parse_forms);
	tcase_add_test(tc, test_parse_flags);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_onbuild_and_triggers);
	tcase_add_test(tc, test_instr_string);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_mount_parse);
	tcase_add_test(tc, test_mount_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("large-inputs");
	tcase_add_test(tc, test_parse_large_inputs);
	suite_add_tcase(s, tc);

	tc = tcase_create("variables");
	tcase_add_test(tc, test_expand_word);
	tcase_add_test(tc, test_expand_errors);
	tcase_add_test(tc, test_expand_patterns);
	tcase_add_test(tc, test_expand_words);
	tcase_add_test(tc, test_vars_env_beats_arg);
	tcase_add_test(tc, test_instr_expand);
	suite_add_tcase(s, tc);

	tc = tcase_create("stages");
	tcase_add_test(tc, test_plan_stages);
	tcase_add_test(tc, test_plan_errors);
	tcase_add_test(tc, test_plan_arg_scoping);
	suite_add_tcase(s, tc);

	tc = tcase_create("ignore");
	tcase_add_test(tc, test_ignore_rules);
	tcase_add_test(tc, test_glob);
	suite_add_tcase(s, tc);

	tc = tcase_create("context");
	tcase_add_checked_fixture(tc, ctx_setup, ctx_teardown);
	tcase_add_test(tc, test_sources_collect);
	tcase_add_test(tc, test_sources_many_files);
	tcase_add_test(tc, test_sources_errors);
	tcase_add_test(tc, test_sources_digest);
	tcase_add_test(tc, test_cache_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_config_apply);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_history_created_by);
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz-corpus");
	tcase_add_test(tc, test_fuzz_corpus);
	suite_add_tcase(s, tc);
	return s;
}
