/* A bounded JSON line builder: appends never overflow; an overflow marks the
 * buffer so the caller drops the line and counts it instead of writing half. */
#ifndef TW_JSONBUF_H
#define TW_JSONBUF_H
#include <stddef.h>
#include <stdint.h>

struct tw_jb {
	char *buf;
	size_t cap;
	size_t len;
	int overflow;
	int need_comma; /* a member was written at this nesting level */
};

void tw_jb_init(struct tw_jb *b, char *buf, size_t cap);
void tw_jb_raw(struct tw_jb *b, const char *s);
void tw_jb_obj_open(struct tw_jb *b, const char *key); /* key NULL: top level / array element */
void tw_jb_obj_close(struct tw_jb *b);
void tw_jb_arr_open(struct tw_jb *b, const char *key);
void tw_jb_arr_close(struct tw_jb *b);
void tw_jb_str(struct tw_jb *b, const char *key, const char *val); /* val NULL -> null */
void tw_jb_strn(struct tw_jb *b, const char *key, const char *val, size_t n);
void tw_jb_u64(struct tw_jb *b, const char *key, uint64_t v);
void tw_jb_i64(struct tw_jb *b, const char *key, int64_t v);
void tw_jb_bool(struct tw_jb *b, const char *key, int v);
void tw_jb_dbl(struct tw_jb *b, const char *key, double v, int decimals);
void tw_jb_null(struct tw_jb *b, const char *key);
void tw_jb_base64(struct tw_jb *b, const char *key, const uint8_t *p, size_t n);
/* RFC 3339 with microseconds and +0000, as EVE writes it */
void tw_jb_time(struct tw_jb *b, const char *key, uint64_t ns_since_epoch);
/* The same time as text (for records built with json-c): out gets at most
 * cap - 1 characters; 32 is always enough. */
void tw_time_format(char *out, size_t cap, uint64_t ns_since_epoch);
/* Finish the line: appends '\n' and NUL; returns length or -1 on overflow. */
long tw_jb_end(struct tw_jb *b);
#endif
