/* ADDR:PORT as operators write it on the command line and in the config:
 * an IPv4 literal (127.0.0.1:9464) or a bracketed IPv6 literal
 * ([::1]:9464).  No host names: nothing is resolved, so startup never
 * waits on DNS and the address bound or sent to is the one written. */
#ifndef TW_HOSTPORT_H
#define TW_HOSTPORT_H
#include <stddef.h>
#include <sys/socket.h>

/* 0, or -1 with a one-line reason in err (without the input). */
int tw_hostport_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len, char *err, size_t errlen);
/* Loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
int tw_hostport_is_loopback(const struct sockaddr_storage *ss);
#endif
