/*
 * container commands (none yet).
 */
#include "cmd/cmd.h"

const struct command cmd_container_commands[] = {
	{ NULL, NULL, NULL, NULL, NULL },
};
