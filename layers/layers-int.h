/*
 * Internals of the layers module, shared between its .c files only.
 */
#ifndef STRATA_LAYERS_LAYERS_INT_H
#define STRATA_LAYERS_LAYERS_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "layers/layers.h"

#endif
