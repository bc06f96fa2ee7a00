/*
 * build commands (none yet).
 */
#include "cmd/cmd.h"

const struct command cmd_build_commands[] = {
	{ NULL, NULL, NULL, NULL, NULL },
};
