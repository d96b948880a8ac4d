/* Block-page / DNS-answer fingerprints in OONI blocking-fingerprints CSV
 * format (github.com/ooni/blocking-fingerprints):
 *   name,scope,other_names,location_found,pattern_type,pattern,
 *   confidence_no_fp,expected_countries,source,exp_url,notes
 * Columns are found by header name (order free, extra columns ignored;
 * name, location_found, pattern_type, pattern are required).
 * location_found: body | header.<name> | dns
 * pattern_type:   full | prefix | contains | regexp
 * Matching is byte-exact and case-sensitive like OONI's, except DNS answers
 * and header names, which compare case-insensitively.
 *
 * Regexps are PCRE-ish; they are translated to POSIX ERE (\d \s \w and
 * their negations, (?:...), lazy quantifiers, a leading (?i), literal '{')
 * and compiled with regcomp.  A row whose regexp cannot be translated or
 * compiled is skipped with a warning, not an error.
 *
 * A loaded db is read-only: matching may run concurrently from several
 * threads; loading must not run concurrently with anything.
 */
#ifndef TW_FINGERPRINTS_H
#define TW_FINGERPRINTS_H

#include <stddef.h>
#include <stdint.h>

#define TW_FP_FILE_MAX (16u << 20) /* bytes per file */
#define TW_FP_RECORD_MAX 65536u    /* bytes per CSV record ("line") */
#define TW_FP_FIELDS_MAX 64
#define TW_FP_ENTRIES_MAX 1000000u /* per db */

struct tw_fp_db; /* opaque */

struct tw_fp_match {
	const char *name;
	const char *scope; /* nat|isp|prod|inst|vbw|fp|... as in the file */
	int confidence_no_fp;
	const char *countries; /* expected_countries, e.g. "AE,SA" */
	/* scope == "fp": a known NON-censorship page (CDN/WAF/parking page):
	 * the caller must not count it as blocking */
	int is_false_positive_scope;
	const char *location;     /* body | header.<name> | dns */
	const char *pattern_type; /* full | prefix | contains | regexp */
	const char *pattern;
	const char *file; /* where the row came from */
	int line;
};

struct tw_fp_db *tw_fp_db_new(void);
void tw_fp_db_free(struct tw_fp_db *db);

/* Warnings (skipped regexps) go to fn; default prints to stderr.  fn may
 * be NULL to drop them.  Format: "FILE:LINE: warning: skipped NAME: ..." */
void tw_fp_db_set_warn(struct tw_fp_db *db, void (*fn)(void *arg, const char *msg), void *arg);

/* Load one file (or an in-memory image of one; `name` is used in
 * messages).  Returns 0, or -1 with err = "FILE:LINE: reason" (or
 * "FILE: reason" for file-level problems); a failed load adds nothing.
 * Several files may be loaded into one db. */
int tw_fp_db_load(struct tw_fp_db *db, const char *path, char *err, size_t errlen);
int tw_fp_db_load_mem(struct tw_fp_db *db, const char *name, const uint8_t *data, size_t len, char *err, size_t errlen);

/* Loaded entries; *skipped (if non-NULL) = rows skipped for regexps. */
size_t tw_fp_db_count(const struct tw_fp_db *db, size_t *skipped);

/* raw_response: the server's first bytes ("HTTP/1.x ..." status line,
 * headers, body as far as present).  Header fingerprints are tried on
 * complete header lines, body fingerprints on the bytes after the blank
 * line (if raw does not start with "HTTP/", all of it is body).  Returns
 * the best match: highest confidence_no_fp, then longest pattern, then
 * first loaded; NULL if none.  The pointer lives as long as the db. */
const struct tw_fp_match *tw_fp_match_http(const struct tw_fp_db *db, const uint8_t *raw_response, size_t len);
/* All distinct matches (at most max stored); returns the number stored. */
size_t tw_fp_match_http_all(const struct tw_fp_db *db, const uint8_t *raw_response, size_t len,
                            const struct tw_fp_match **out, size_t max);

/* answer_text: an A/AAAA address in inet_ntop form or a CNAME target
 * (a trailing '.' is ignored).  Same selection rule as above. */
const struct tw_fp_match *tw_fp_match_dns(const struct tw_fp_db *db, const char *answer_text);

#endif
