// SPDX-License-Identifier: ISC
#ifndef COFFER_YAML_DEF_H
#define COFFER_YAML_DEF_H

/*
 * YAML front end of the coffer definition (libyaml's event parser): one
 * document whose top level is a mapping, read into the same tree the TOML
 * reader builds (toml.h), so one model builder serves both.
 *
 * Mappings become tables (kind TOML_TABLE_HEADER), sequences arrays, scalars
 * typed values: an explicit tag (!!str, !!int, !!float, !!bool,
 * !!timestamp) must match its value; an untagged plain scalar resolves by the
 * YAML 1.2 core schema (true/false in three casings, decimal/0o/0x integers,
 * floats with .inf/.nan, and RFC 3339 date/times as in TOML: offset and local
 * date-times, dates, times); quoted and block scalars are strings. Refused
 * with ERR_FORMAT: aliases and anchors (no billion laughs), nulls, other
 * tags, non-scalar keys, duplicate keys, more than one document, a top level
 * that is not a mapping; nesting beyond LIMIT_NESTING is ERR_TOO_LARGE.
 * Details are "NAME:LINE:COL: reason" (1-based, columns in characters).
 */

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct toml_doc;

/* Parse len bytes of YAML into a new tree (flags as toml_parse: TOML_SECMEM).
 * *out is freed by the caller with toml_free(). */
int yaml_def_parse(const uint8_t *text, size_t len, const char *name, unsigned flags,
		   struct toml_doc **out) WARN_UNUSED;

#endif
