/* Reading a text file line by line when its bytes are hostile: the length
 * of what was read is known (fgets hides NUL bytes, and the text after
 * one would be silently dropped), lines are bounded. */
#ifndef TW_LINEREAD_H
#define TW_LINEREAD_H
#include <stddef.h>
#include <stdio.h>

enum { TW_LINE_EOF = 0, TW_LINE_OK = 1, TW_LINE_TOO_LONG = -1, TW_LINE_NUL = -2 };

/* One line into buf (cap bytes, NUL-terminated, the '\n' removed): TW_LINE_OK,
 * TW_LINE_EOF at the end, TW_LINE_TOO_LONG when it has more than cap - 1
 * bytes, TW_LINE_NUL when it holds a NUL byte (the rest of the line is
 * consumed, so the next call reads the next line).  Errors of the stream:
 * ferror(fp). */
int tw_line_read(FILE *fp, char *buf, size_t cap);

/* Copy s into out (outlen bytes) with control bytes (< 0x20, 0x7f) shown
 * as \xHH, so a message quoting hostile input cannot drive a terminal. */
void tw_line_escape(const char *s, char *out, size_t outlen);
#endif
