/* Legitimacy: the operator's declared restrictions (README "Alerts").
 * One restriction a line, comma-separated:
 *     pattern, method, legal reference, since, until
 * pattern: a domain (exact), "*.domain" (any subdomain and the domain
 * itself), an IPv4/IPv6 address or CIDR; method: a censorship method or
 * "any"; since/until: YYYY-MM-DD or empty (open).  '#' starts a comment. */
#ifndef TW_LEGIT_H
#define TW_LEGIT_H
#include <stddef.h>
#include <stdint.h>

struct tw_legit;
struct tw_legit_entry {
	char pattern[256];
	char method[32]; /* "any" or a method name */
	char legal_ref[256];
	uint64_t since_ns, until_ns; /* 0 / UINT64_MAX: open */
	int is_net, family, plen;
	uint8_t net[16];
};

#define TW_LEGIT_MAX 100000 /* declarations in one file: bounds memory (~600 bytes each) */

/* NULL with "FILE:LINE: field: ..." in err. */
struct tw_legit *tw_legit_load(const char *path, char *err, size_t errlen);
/* First restriction that covers domain (may be NULL) or ip at time ts_ns. */
const struct tw_legit_entry *tw_legit_match(const struct tw_legit *l, const char *domain, const char *ip,
                                            uint64_t ts_ns);
/* The same for an alert of method m (enum tw_method): NULL for a method
 * no lawful restriction covers (method.h "declarable": http_injection). */
const struct tw_legit_entry *tw_legit_for(const struct tw_legit *l, int m, const char *domain, const char *ip,
                                          uint64_t ts_ns);
size_t tw_legit_count(const struct tw_legit *l);
void tw_legit_free(struct tw_legit *l);
#endif
