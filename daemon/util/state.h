/* Durable state files (docs/state.md): one blob per file,
 * zlib-compressed behind a versioned header with lengths and a CRC-32,
 * written to a temporary file, fsync'd and renamed over the old one (a
 * crash leaves either the old or the new file, never a torn one). */
#ifndef TW_STATE_H
#define TW_STATE_H
#include <stddef.h>

#define TW_STATE_VERSION 1

/* 0, or -1 with a message in err. */
int tw_state_save(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* What tw_state_load found.  A file that is there but not ours to trust
 * (truncated, checksum or zlib error, foreign magic, another version) is
 * moved aside and the caller starts empty; a file the system will not let
 * us read (permissions, EIO, a directory) is left alone and the caller
 * stops: starting empty would overwrite state that may be perfectly good. */
enum tw_state_rc {
	TW_STATE_UNREADABLE = -2, /* err: the file and the system's reason; left in place */
	TW_STATE_CORRUPT = -1,    /* err: the file, why, and where it was moved */
	TW_STATE_NONE = 0,        /* no file: a first start */
	TW_STATE_LOADED = 1,      /* *data malloc'd, NUL-terminated beyond *len */
};
/* A corrupt file that cannot be moved aside is TW_STATE_UNREADABLE: the next
 * save would replace it.  NAME.tmp.PID left by a save that a crash cut short
 * is removed (if that process is gone). */
int tw_state_load(const char *dir, const char *name, void **data, size_t *len, char *err, size_t errlen);
/* Rename path to path.corrupt-TIMESTAMP (-N added if that exists): 0, or
 * -1 with errno set.  aside receives the new name. */
int tw_state_set_aside(const char *path, char *aside, size_t cap);
#endif
