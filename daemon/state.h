/* Durable state files (README "Alerts: state"): one blob per file,
 * zlib-compressed behind a versioned header with lengths and a CRC-32,
 * written to a temporary file, fsync'd and renamed over the old one (a
 * crash leaves either the old or the new file, never a torn one). */
#ifndef TW_STATE_H
#define TW_STATE_H
#include <stddef.h>

#define TW_STATE_VERSION 1

/* 0, or -1 with a message in err. */
int tw_state_save(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen);
/* 1: loaded (*data is malloc'd, NUL-terminated beyond *len); 0: no file;
 * -1: unreadable/corrupt: the file was renamed NAME.corrupt-TIMESTAMP and
 * err says so (the caller reports it and starts empty). */
int tw_state_load(const char *dir, const char *name, void **data, size_t *len, char *err, size_t errlen);
/* Rename path to path.corrupt-TIMESTAMP (-N added if that exists): 0, or
 * -1 with errno set.  aside receives the new name. */
int tw_state_set_aside(const char *path, char *aside, size_t cap);
#endif
