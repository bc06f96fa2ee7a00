/*
 * registry commands (none yet).
 */
#include "cmd/cmd.h"

const struct command cmd_registry_commands[] = {
	{ NULL, NULL, NULL, NULL, NULL },
};
