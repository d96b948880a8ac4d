/* The control socket's request line (README "tamperwatch (operator CLI)"):
 *
 *   COMMAND [KEY=VALUE]...\n        at most TW_CTL_REQ_MAX bytes
 *
 * COMMAND is status, alerts, targets or report; values are tokens of
 * [A-Za-z0-9_.:-].  One parser for the daemon and the CLI (which builds the
 * request with tw_ctl_req_format), so both refuse the same things. */
#ifndef TW_CTLREQ_H
#define TW_CTLREQ_H
#include <stddef.h>
#include <stdint.h>

#define TW_CTL_REQ_MAX 4096
#define TW_CTL_TOP_MAX 20

enum tw_ctl_cmd { TW_CTL_NONE, TW_CTL_STATUS, TW_CTL_ALERTS, TW_CTL_TARGETS, TW_CTL_REPORT };
enum tw_ctl_state { TW_CTL_ALL, TW_CTL_OPEN, TW_CTL_RESOLVED };

struct tw_ctl_req {
	enum tw_ctl_cmd cmd;
	/* alerts */
	enum tw_ctl_state state;                       /* default all: open and recent */
	char method[24], category[16], legitimacy[16]; /* "" = any */
	uint64_t since_s;                              /* 0 = any: last line newer than now - since_s */
	/* targets */
	int top; /* 1..TW_CTL_TOP_MAX (default TW_CTL_TOP_MAX) */
	/* report */
	char id[64];
};

void tw_ctl_req_init(struct tw_ctl_req *r, enum tw_ctl_cmd cmd);
/* line: len bytes, with or without the trailing '\n'.  0, or -1 with err. */
int tw_ctl_req_parse(const char *line, size_t len, struct tw_ctl_req *r, char *err, size_t errlen);
/* the request line with '\n'; its length, or -1 if cap is too small */
long tw_ctl_req_format(const struct tw_ctl_req *r, char *buf, size_t cap);
/* "90", "90s", "15m", "2h", "7d" -> seconds (1 .. 10 years); 0 or -1 */
int tw_ctl_parse_duration(const char *s, uint64_t *secs);
/* a value as the protocol takes it: 1..63 bytes of [A-Za-z0-9_.:-] */
int tw_ctl_token_ok(const char *s);
const char *tw_ctl_cmd_name(enum tw_ctl_cmd c);
const char *tw_ctl_state_name(enum tw_ctl_state s);
#endif
