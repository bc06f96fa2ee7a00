/*
 * layer commands (none yet).
 */
#include "cmd/cmd.h"

const struct command cmd_layer_commands[] = {
	{ NULL, NULL, NULL, NULL, NULL },
};
