/*
 * run commands (none yet).
 */
#include "cmd/cmd.h"

const struct command cmd_run_commands[] = {
	{ NULL, NULL, NULL, NULL, NULL },
};
