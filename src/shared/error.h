/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Errors that carry a message (XML line, QMP error class, who holds a device) are returned
 * as a negative errno plus a heap string through a `char **reterr` parameter. The first
 * message set wins; reterr may be NULL. The library never prints. */
int error_set(char **reterr, int err, const char *fmt, ...) _printf_(3, 4);
/* Prefix an existing message: "prefix: old". */
int error_prefix(char **reterr, int err, const char *fmt, ...) _printf_(3, 4);
