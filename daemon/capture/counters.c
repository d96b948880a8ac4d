/* Names of the backend's counters, as the stats record and the metrics
 * endpoint write them. */
#include "capture/engine.h"
#include <tamperwatch/parse.h>

static const char *const parse_names[TW_PARSE_RESULT_MAX] = {
	[TW_PARSE_NOT_IP] = "not_ip",         [TW_PARSE_TRUNC_L2] = "truncated_l2",
	[TW_PARSE_TRUNC_L3] = "truncated_l3", [TW_PARSE_BAD_L3] = "bad_l3",
	[TW_PARSE_FRAGMENT] = "fragment",     [TW_PARSE_IPV6_EXT_LIMIT] = "ipv6_ext_limit",
	[TW_PARSE_OTHER_L4] = "other_l4",     [TW_PARSE_TRUNC_L4] = "truncated_l4",
	[TW_PARSE_BAD_L4] = "bad_l4",
};

const char *tw_untracked_name(int i)
{
	return i > 0 && i < TW_PARSE_RESULT_MAX ? parse_names[i] : NULL;
}
