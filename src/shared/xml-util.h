/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlBufferPtr, xmlBufferFree);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlXPathContextPtr, xmlXPathFreeContext);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlXPathObjectPtr, xmlXPathFreeObject);
static inline void xmlCharFreep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}
#define _cleanup_xmlfree_ _cleanup_(xmlCharFreep)
