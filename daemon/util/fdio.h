/* Writing all of a buffer to a descriptor that may take less than asked
 * (a pipe, a device, a signal): shared by the daemon and the CLI. */
#ifndef TW_FDIO_H
#define TW_FDIO_H
#include <stddef.h>

/* 0, or -1 with errno (a write that takes nothing is EIO) */
int tw_write_full(int fd, const void *p, size_t n);
#endif
