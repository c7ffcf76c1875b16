/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "hostdev-def.h"
#include "util.h"

/* Parse an input file in any accepted form (CONTRACT.md "Input files"): one <hostdev>, several
 * inside <devices>, or a whole <domain>. libxml2 runs with no network, no entity expansion;
 * a DOCTYPE or entity declaration is rejected.
 * On invalid input: returns -EINVAL and *reterr = "PATH:LINE: message" (what is wrong and
 * what to write instead). Other negative errno for I/O (message set too). */
int hostdev_file_parse_path(const char *path, struct hostdev_file **ret, char **reterr);
int hostdev_file_parse_buffer(const char *buf, size_t len, const char *name,
                              struct hostdev_file **ret, char **reterr);

/* Normalised libvirt XML of one def (its <hostdev> or <interface> element), each line
 * prefixed with `indent` spaces, ending in a newline. */
void hostdev_def_format(const struct hostdev_def *def, unsigned indent, struct strbuf *out);

/* What `hostdev validate` prints for a parsed file: a lone element when the input held one
 * def and no domain; otherwise <devices>...</devices> (or <domain> with <name> and
 * <devices> when the input was a domain). validate(validate(x)) == validate(x). */
int hostdev_file_format(const struct hostdev_file *f, char **ret);

/* The normalised <source> element of a def on one line, e.g.
 * "<source><vendor id='0x46f4'/><product id='0x0001'/><serial>A</serial></source>"
 * (used as `selector` in resolve --json and in messages). */
int hostdev_def_format_source(const struct hostdev_def *def, char **ret);

const char *hostdev_type_to_string(enum hostdev_type t); /* "usb", "pci", ..., "storage", "misc", "net" */
