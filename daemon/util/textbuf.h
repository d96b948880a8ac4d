/* A growable byte buffer with a hard size bound, always NUL-terminated:
 * an append that would pass max (or fail to allocate) marks the buffer
 * failed instead of cutting the content. */
#ifndef TW_TEXTBUF_H
#define TW_TEXTBUF_H
#include <stddef.h>

struct tw_tb {
	char *p; /* free() when done */
	size_t n, cap;
	size_t max; /* 0: no bound beyond memory */
	int fail;
};

/* 0, or -1 (and fail set) */
int tw_tb_add(struct tw_tb *b, const void *p, size_t n);
int tw_tb_str(struct tw_tb *b, const char *s);
/* at most 2 KiB per call */
void tw_tb_printf(struct tw_tb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
