/* libFuzzer target: the control socket's request parser (ctlreq.c), the
 * first thing a peer's bytes reach.  Whatever it accepts must format back
 * to a line that parses to the same request. */
#include <stdlib.h>
#include <string.h>

#include "control/ctlreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tw_ctl_req r, back;
	char err[256], line[TW_CTL_REQ_MAX + 2];

	if (tw_ctl_req_parse((const char *)data, size, &r, err, sizeof(err)) < 0) {
		if (!err[0] || !memchr(err, 0, sizeof(err)))
			abort();
		return 0;
	}
	if (r.cmd == TW_CTL_NONE || !memchr(r.id, 0, sizeof(r.id)) || !memchr(r.method, 0, sizeof(r.method)) ||
	    r.top < 1 || r.top > TW_CTL_TOP_MAX)
		abort();
	long n = tw_ctl_req_format(&r, line, sizeof(line));
	if (n <= 0 || tw_ctl_req_parse(line, (size_t)n, &back, err, sizeof(err)) < 0 || memcmp(&r, &back, sizeof(r)))
		abort();
	return 0;
}
