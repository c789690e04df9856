// SPDX-License-Identifier: ISC
#ifndef COFFER_FRAME_H
#define COFFER_FRAME_H

/*
 * Coffer frames: `u16 length | u8 type | body` (network byte order), and the
 * two conversation state machines (client and server) that allow exactly the
 * transitions of docs/protocol.md:
 *
 *   (start) -> Hello                         C->S
 *   Hello   -> Link | KeyNotFound | Error    S->C
 *   Link    -> Get | Bye                     C->S
 *   Get     -> OkGet | Error                 S->C
 *   OkGet   -> Bye, or OkGet while the previous OkGet had "more" set
 *   Bye, KeyNotFound, Error: terminal
 *
 * Pure code: no sockets. The decoder is fed whatever bytes a non-blocking
 * read returned and hands out whole frames; it never holds more than one
 * frame (header + at most 65535 body bytes) and refuses an unknown type or a
 * length beyond the per-type cap as soon as the 3-byte header is in.
 */

#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "err.h"

struct buf;

enum frame_type {
	FRAME_HELLO = 0x00,
	FRAME_LINK = 0x01,
	FRAME_GET = 0x02,
	FRAME_OKGET = 0x03,
	FRAME_BYE = 0x99,
	FRAME_KEY_NOT_FOUND = 0xaa,
	FRAME_ERROR = 0xff,
};

/* Body sizes (see docs/protocol.md "Limits"). */
#define FRAME_TAG_LEN 16
#define FRAME_POINT_LEN 65
#define FRAME_HELLO_PAYLOAD_LEN 12 /* TAI64N timestamp */
/* e || enc(s) || enc(TAI64N) */
#define FRAME_HELLO_LEN (FRAME_POINT_LEN + FRAME_POINT_LEN + FRAME_TAG_LEN + \
			 FRAME_HELLO_PAYLOAD_LEN + FRAME_TAG_LEN)
/* e || enc(empty) */
#define FRAME_LINK_LEN (FRAME_POINT_LEN + FRAME_TAG_LEN)
/* e || enc(client static) */
#define FRAME_KEY_NOT_FOUND_LEN (FRAME_POINT_LEN + FRAME_POINT_LEN + FRAME_TAG_LEN)
/* enc(client static) */
#define FRAME_BYE_LEN (FRAME_POINT_LEN + FRAME_TAG_LEN)
#define FRAME_MAX_ERROR_TEXT 1024 /* bytes of reason text in an Error */
#define FRAME_MAX_ERROR_LEN (FRAME_MAX_ERROR_TEXT + FRAME_TAG_LEN)
#define FRAME_MAX_BODY WIRE_MAX_BODY
#define FRAME_MIN_SEALED FRAME_TAG_LEN

/* A decoded frame; body points into the decoder (valid until its next call). */
struct frame {
	uint8_t type;
	const uint8_t *body;
	size_t len;
};

/* "Hello", "Link", ..., or "unknown". */
const char *frame_type_name(uint8_t type);
/* 1 if type is one of the seven frame types. */
int frame_type_known(uint8_t type);
/* Exact body length the type requires (Hello, Link, KeyNotFound, Bye), or 0
 * for variable-length types. */
size_t frame_fixed_len(uint8_t type);
/* Largest body the type may carry. 0 for unknown types. */
size_t frame_max_len(uint8_t type);

/*
 * Append one frame (header + body) to out. ERR_INVALID_ARG for an unknown
 * type, ERR_TOO_LARGE if len exceeds the type's cap; errors from buf_put.
 */
int frame_encode(struct buf *out, uint8_t type, const uint8_t *body, size_t len) WARN_UNUSED;

/* Incremental decoder. */
struct frame_decoder;

/* A new decoder (its storage is one maximal frame). NULL on OOM. */
struct frame_decoder *frame_decoder_new(void);
/* Wipes and frees; NULL is fine. */
void frame_decoder_free(struct frame_decoder *d);
/* Bytes buffered towards the current frame. */
size_t frame_decoder_pending(const struct frame_decoder *d);

/*
 * Feed up to len bytes. *used gets how many were taken: the decoder stops
 * taking bytes at the end of a frame, so the caller feeds the rest again
 * after handling the frame. Returns:
 *   0               *f holds a whole frame (valid until the next feed)
 *   ERR_INCOMPLETE  all len bytes taken, no whole frame yet
 *   ERR_PROTOCOL    unknown type ("unknown frame type 0x42")
 *   ERR_TOO_LARGE   length beyond the type's cap
 *   ERR_FORMAT      a fixed-size type with another length, an empty Error
 * After an error the decoder is dead (every later feed repeats the error):
 * close the connection.
 */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *p, size_t len, size_t *used,
		       struct frame *f) WARN_UNUSED;

/* Conversation state machines. */
enum frame_role {
	FRAME_ROLE_CLIENT = 1,
	FRAME_ROLE_SERVER = 2,
};

enum frame_state {
	FRAME_STATE_START = 0,
	FRAME_STATE_HELLO,       /* Hello sent/received */
	FRAME_STATE_LINK,        /* Link */
	FRAME_STATE_GET,         /* Get */
	FRAME_STATE_OKGET_MORE,  /* an OkGet with "more" */
	FRAME_STATE_OKGET_LAST,  /* the last OkGet */
	FRAME_STATE_DONE,        /* Bye, KeyNotFound or Error: nothing more */
};

struct frame_sm {
	enum frame_role role;
	enum frame_state state;
};

/* Start a conversation for the given role. */
void frame_sm_init(struct frame_sm *sm, enum frame_role role);
/*
 * May this side send (outgoing = 1) or receive (outgoing = 0) a frame of this
 * type now? 0, or ERR_PROTOCOL with a named reason ("unexpected Get after
 * Hello", "Link is sent by the server", "unknown frame type 0x42",
 * "conversation is over").
 */
int frame_sm_check(const struct frame_sm *sm, int outgoing, uint8_t type) WARN_UNUSED;
/*
 * Check and take the transition. `more` matters only for OkGet (the flag
 * byte of its plaintext): the receiver calls this after opening the body.
 */
int frame_sm_advance(struct frame_sm *sm, int outgoing, uint8_t type, int more) WARN_UNUSED;
/* 1 once a terminal frame went either way. */
int frame_sm_done(const struct frame_sm *sm);

#endif
