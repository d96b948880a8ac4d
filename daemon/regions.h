/* Operator's prefix -> region / ASN labels.
 *
 * File format (one label a line; '#' starts a comment; blank lines ignored):
 *     PREFIX  REGION  [ASN]
 *     198.51.100.0/24   north-east   64500
 *     2001:db8:10::/48  north-east   AS64500
 * PREFIX: IPv4 or IPv6 in CIDR notation, host bits zero.  REGION: 1..47 of
 * [A-Za-z0-9._:-].  ASN: optional, decimal, "AS" prefix allowed.
 * Lookup is longest-prefix match: the table is kept sorted, and a lookup
 * binary-searches it once per prefix length present (O(log n) each);
 * duplicates are found by sorting (O(n log n)).  A duplicate prefix is an
 * error, reported at the line that repeats it.
 * Errors read "FILE:LINE: reason". */
#ifndef TW_REGIONS_H
#define TW_REGIONS_H
#include <stddef.h>
#include <stdint.h>

struct tw_region_entry {
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
	int plen;
	char region[48];
	uint32_t asn; /* 0: none given */
};

struct tw_regions {
	struct tw_region_entry *e; /* sorted by family, prefix length, address */
	size_t n, cap;
	uint8_t plens4[33], plens6[129]; /* the lengths present, longest first */
	int nplens4, nplens6;
};

/* 0 ok (entries appended to r), -1 error (r unchanged). */
int tw_regions_load(struct tw_regions *r, const char *path, char *err, size_t errlen);
/* Parse from memory; `name` is used in error messages. */
int tw_regions_parse(struct tw_regions *r, const char *name, const char *text, char *err, size_t errlen);
const struct tw_region_entry *tw_regions_lookup(const struct tw_regions *r, int family, const uint8_t *addr);
/* The region of a client prefix written "ADDR/LEN", looked up by its
 * network address; NULL: r NULL, not labelled, or not an address. */
const struct tw_region_entry *tw_regions_lookup_prefix(const struct tw_regions *r, const char *prefix);
void tw_regions_free(struct tw_regions *r);
#endif
