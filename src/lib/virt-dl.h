/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt's client library, loaded on demand (issue 8).
 *
 * hostdev does not link libvirt: libvirt.so.0 pulls in ~45 shared libraries (gnutls, ...) and
 * made every `hostdev list` start 7x slower than lspci. Only the --connect paths need it, so
 * virt.c (the only libvirt user) resolves the functions below with dlopen()/dlsym() the first
 * time it connects. libvirt's own headers give the types and prototypes; after this header the
 * names of the listed functions stand for the loaded pointers (virt_dl.NAME), so virt.c calls
 * them as usual. A libvirt function used without being listed here is a link error (no
 * library provides it), never a silent direct call. */

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define VIRT_DL_SONAME "libvirt.so.0"

#define VIRT_DL_FUNCTIONS(X)                    \
        X(virConnectClose)                      \
        X(virConnectDomainEventDeregisterAny)   \
        X(virConnectDomainEventRegisterAny)     \
        X(virConnectListAllDomains)             \
        X(virConnectOpen)                       \
        X(virConnectRegisterCloseCallback)      \
        X(virConnectSetKeepAlive)               \
        X(virConnectUnregisterCloseCallback)    \
        X(virDomainAttachDeviceFlags)           \
        X(virDomainDetachDeviceFlags)           \
        X(virDomainFree)                        \
        X(virDomainGetMetadata)                 \
        X(virDomainGetName)                     \
        X(virDomainGetXMLDesc)                  \
        X(virDomainIsActive)                    \
        X(virDomainLookupByName)                \
        X(virDomainSetMetadata)                 \
        X(virEventAddHandle)                    \
        X(virEventAddTimeout)                   \
        X(virEventRegisterDefaultImpl)          \
        X(virEventRemoveHandle)                 \
        X(virEventRemoveTimeout)                \
        X(virEventRunDefaultImpl)               \
        X(virEventUpdateTimeout)                \
        X(virGetLastError)                      \
        X(virInitialize)                        \
        X(virResetLastError)                    \
        X(virSetErrorFunc)

struct virt_dl {
#define VIRT_DL_FIELD(name) __typeof__(name) *name;
        VIRT_DL_FUNCTIONS(VIRT_DL_FIELD)
#undef VIRT_DL_FIELD
};

/* The table virt.c calls through; filled by virt_dl_load(). */
extern struct virt_dl virt_dl;

/* Load libvirt.so.0 once (thread-safe) and fill virt_dl. -ELIBACC when the library is not
 * installed ("libvirt client library not installed: apt install libvirt0"), -ELIBBAD when it
 * lacks a function. Every later call returns the first result (and its message again). */
int virt_dl_load(char **reterr);

/* The work of virt_dl_load() on any library name, into *ret (untouched on failure); no
 * global state (unit-tested with missing and wrong libraries). */
int virt_dl_open(const char *soname, struct virt_dl *ret, char **reterr);

#ifndef VIRT_DL_NO_REDIRECT
#define virConnectClose (virt_dl.virConnectClose)
#define virConnectDomainEventDeregisterAny (virt_dl.virConnectDomainEventDeregisterAny)
#define virConnectDomainEventRegisterAny (virt_dl.virConnectDomainEventRegisterAny)
#define virConnectListAllDomains (virt_dl.virConnectListAllDomains)
#define virConnectOpen (virt_dl.virConnectOpen)
#define virConnectRegisterCloseCallback (virt_dl.virConnectRegisterCloseCallback)
#define virConnectSetKeepAlive (virt_dl.virConnectSetKeepAlive)
#define virConnectUnregisterCloseCallback (virt_dl.virConnectUnregisterCloseCallback)
#define virDomainAttachDeviceFlags (virt_dl.virDomainAttachDeviceFlags)
#define virDomainDetachDeviceFlags (virt_dl.virDomainDetachDeviceFlags)
#define virDomainFree (virt_dl.virDomainFree)
#define virDomainGetMetadata (virt_dl.virDomainGetMetadata)
#define virDomainGetName (virt_dl.virDomainGetName)
#define virDomainGetXMLDesc (virt_dl.virDomainGetXMLDesc)
#define virDomainIsActive (virt_dl.virDomainIsActive)
#define virDomainLookupByName (virt_dl.virDomainLookupByName)
#define virDomainSetMetadata (virt_dl.virDomainSetMetadata)
#define virEventAddHandle (virt_dl.virEventAddHandle)
#define virEventAddTimeout (virt_dl.virEventAddTimeout)
#define virEventRegisterDefaultImpl (virt_dl.virEventRegisterDefaultImpl)
#define virEventRemoveHandle (virt_dl.virEventRemoveHandle)
#define virEventRemoveTimeout (virt_dl.virEventRemoveTimeout)
#define virEventRunDefaultImpl (virt_dl.virEventRunDefaultImpl)
#define virEventUpdateTimeout (virt_dl.virEventUpdateTimeout)
#define virGetLastError (virt_dl.virGetLastError)
#define virInitialize (virt_dl.virInitialize)
#define virResetLastError (virt_dl.virResetLastError)
#define virSetErrorFunc (virt_dl.virSetErrorFunc)
#endif
