/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cli.h"

int verb_dumpxml(int argc, char **argv) {
        log_error("%s: not implemented yet", argv[0]);
        return EXIT_FAIL;
}

