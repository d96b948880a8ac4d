/* OONI blocking-fingerprints loader and matcher (see fingerprints.h). */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verdicts/fingerprints.h"

enum { LOC_BODY, LOC_HEADER, LOC_DNS };
enum { PT_FULL, PT_PREFIX, PT_CONTAINS, PT_REGEXP };

struct fp_entry {
	struct tw_fp_match m;
	unsigned ord; /* load order, last tie-break */
	uint8_t loc, ptype;
	char *hdr; /* lower-case header name (LOC_HEADER) */
	char *pat; /* pattern bytes; lower-cased for LOC_DNS */
	size_t plen;
	regex_t re;
	int has_re;
	char *lit; /* literal every regexp match contains (prefilter) */
	size_t litlen;
	char *name, *scope, *countries, *location, *raw_pat;
};

/* Body "contains" patterns are bucketed by a hash of their first 4 bytes,
 * so a body is scanned once instead of memmem'ing ~1300 patterns. */
#define HBITS 13
#define NBUCKET (1u << HBITS)

struct hdr_group {
	char *name;
	uint32_t *idx;
	size_t n;
};

struct tw_fp_db {
	struct fp_entry **e; /* pointers: returned matches stay valid on growth */
	size_t n, cap;
	size_t skipped;
	char **files;
	size_t nfiles;
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
	/* index, rebuilt after each successful load */
	uint32_t *bstart; /* NBUCKET + 1 offsets into bitems */
	uint32_t *bitems;
	uint8_t bmap[NBUCKET / 8];
	uint32_t *body_other; /* full/prefix/regexp and contains < 4 bytes */
	size_t n_body_other;
	struct hdr_group *hg;
	size_t n_hg;
	uint32_t *dns_full; /* sorted by pattern */
	size_t n_dns_full;
	uint32_t *dns_other;
	size_t n_dns_other;
};

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void default_warn(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "tamperwatch: %s\n", msg);
}

struct tw_fp_db *tw_fp_db_new(void)
{
	struct tw_fp_db *db = calloc(1, sizeof(*db));
	if (db)
		db->warn = default_warn;
	return db;
}

void tw_fp_db_set_warn(struct tw_fp_db *db, void (*fn)(void *arg, const char *msg), void *arg)
{
	db->warn = fn;
	db->warn_arg = arg;
}

size_t tw_fp_db_count(const struct tw_fp_db *db, size_t *skipped)
{
	if (skipped)
		*skipped = db ? db->skipped : 0;
	return db ? db->n : 0;
}

static void entry_free(struct fp_entry *e)
{
	if (!e)
		return;
	if (e->has_re)
		regfree(&e->re);
	free(e->hdr);
	free(e->pat);
	free(e->lit);
	free(e->name);
	free(e->scope);
	free(e->countries);
	free(e->location);
	free(e->raw_pat);
	free(e);
}

static void index_free(struct tw_fp_db *db)
{
	free(db->bstart);
	free(db->bitems);
	free(db->body_other);
	for (size_t i = 0; i < db->n_hg; i++) {
		free(db->hg[i].name);
		free(db->hg[i].idx);
	}
	free(db->hg);
	free(db->dns_full);
	free(db->dns_other);
	db->bstart = db->bitems = db->body_other = db->dns_full = db->dns_other = NULL;
	db->hg = NULL;
	db->n_body_other = db->n_hg = db->n_dns_full = db->n_dns_other = 0;
	memset(db->bmap, 0, sizeof(db->bmap));
}

void tw_fp_db_free(struct tw_fp_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++)
		entry_free(db->e[i]);
	free(db->e);
	for (size_t i = 0; i < db->nfiles; i++)
		free(db->files[i]);
	free(db->files);
	index_free(db);
	free(db);
}

/* ---- small string helpers ------------------------------------------------ */

/* Copy for messages: printable ASCII, at most 60 chars. */
static void clip(char *out, size_t outsz, const char *in)
{
	size_t o = 0, i = 0;
	for (; in[i] && o + 4 < outsz && i < 60; i++)
		out[o++] = ((uint8_t)in[i] >= 0x20 && (uint8_t)in[i] < 0x7f) ? in[i] : '?';
	if (in[i] && o + 4 <= outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Duplicate with control characters replaced: names end up in logs. */
static char *dup_clean(const char *s)
{
	char *d = strdup(s);
	if (d)
		for (char *p = d; *p; p++)
			if ((uint8_t)*p < 0x20 || *p == 0x7f)
				*p = '?';
	return d;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
		(*n)--;
}

/* ---- PCRE-ish -> POSIX ERE ----------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
	int over;
};

static void emit(struct sbuf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		b->over = 1;
		return;
	}
	b->p[b->n++] = c;
	b->p[b->n] = '\0';
}

static void emits(struct sbuf *b, const char *s)
{
	while (*s)
		emit(b, *s++);
}

/* Bracket expression starting at in[*i] == '['. */
static const char *xlate_bracket(const char *in, size_t len, size_t *i, struct sbuf *b)
{
	size_t k = *i + 1;
	emit(b, '[');
	if (k < len && in[k] == '^')
		emit(b, in[k++]);
	if (k < len && in[k] == ']')
		emit(b, in[k++]);
	while (k < len && in[k] != ']') {
		if (in[k] == '[' && k + 1 < len && (in[k + 1] == ':' || in[k + 1] == '.' || in[k + 1] == '=')) {
			char t = in[k + 1];
			const char *close = NULL;
			for (size_t j = k + 2; j + 1 < len; j++)
				if (in[j] == t && in[j + 1] == ']') {
					close = in + j;
					break;
				}
			if (!close)
				return "unterminated [: class";
			for (; in + k < close + 2; k++)
				emit(b, in[k]);
			continue;
		}
		if (in[k] == '\\') {
			if (k + 1 >= len)
				return "trailing backslash";
			char d = in[k + 1];
			k += 2;
			switch (d) {
			case 'd': emits(b, "0-9"); break;
			case 's': emits(b, "[:space:]"); break;
			case 'w': emits(b, "[:alnum:]_"); break;
			case 't': emit(b, '\t'); break;
			case 'n': emit(b, '\n'); break;
			case 'r': emit(b, '\r'); break;
			case ']':
			case '-':
			case '^':
			case '[': return "position-dependent escape in []";
			default:
				if (is_alnum(d))
					return "unsupported escape in []";
				emit(b, d); /* '\\' included: literal in POSIX brackets */
			}
			continue;
		}
		emit(b, in[k++]);
	}
	if (k >= len)
		return "unterminated [";
	emit(b, ']');
	*i = k + 1;
	return NULL;
}

/* Returns NULL on success, else why the pattern is not translatable. */
static const char *pcre_to_ere(const char *in, size_t len, struct sbuf *b, int *icase)
{
	size_t i = 0;
	const char *why;
	/* A quantifier right after another one is an error in PCRE ("nothing
	 * to repeat"); glibc's regcomp accepts a run of them and can spend
	 * minutes on it (found by fuzz_fingerprints): refuse it here. */
	int quant = 0;

	*icase = 0;
	if (len >= 4 && memcmp(in, "(?i)", 4) == 0) {
		*icase = 1;
		i = 4;
	}
	while (i < len) {
		char c = in[i];
		int after_quant = quant;
		quant = 0;
		if (c == '\\') {
			if (i + 1 >= len)
				return "trailing backslash";
			char d = in[i + 1];
			i += 2;
			switch (d) {
			case 'd': emits(b, "[0-9]"); break;
			case 'D': emits(b, "[^0-9]"); break;
			case 's': emits(b, "[[:space:]]"); break;
			case 'S': emits(b, "[^[:space:]]"); break;
			case 'w': emits(b, "[[:alnum:]_]"); break;
			case 'W': emits(b, "[^[:alnum:]_]"); break;
			case 't': emit(b, '\t'); break;
			case 'n': emit(b, '\n'); break;
			case 'r': emit(b, '\r'); break;
			default:
				if (is_alnum(d))
					return "unsupported escape (\\b, backreference, \\x, ...)";
				if (strchr(".[]()*+?{}|^$\\", d))
					emit(b, '\\');
				emit(b, d);
			}
			continue;
		}
		switch (c) {
		case '[':
			if ((why = xlate_bracket(in, len, &i, b)))
				return why;
			continue;
		case '(':
			if (i + 1 < len && in[i + 1] == '?') {
				if (i + 2 < len && in[i + 2] == ':') {
					emit(b, '(');
					i += 3;
					continue;
				}
				return "unsupported (?...) group";
			}
			break;
		case '*':
		case '+':
		case '?':
			if (after_quant)
				return "quantifier after a quantifier";
			quant = 1;
			emit(b, c);
			i++;
			if (i < len && in[i] == '?')
				i++; /* lazy: same answer for "does it match" */
			else if (i < len && in[i] == '+')
				return "possessive quantifier";
			continue;
		case '{': {
			/* PCRE treats '{' literally unless it starts {n}, {n,} or {n,m} */
			size_t j = i + 1, d1 = 0;
			while (j < len && in[j] >= '0' && in[j] <= '9')
				j++, d1++;
			if (d1 && j < len && in[j] == ',') {
				j++;
				while (j < len && in[j] >= '0' && in[j] <= '9')
					j++;
			}
			if (d1 && j < len && in[j] == '}') {
				if (after_quant)
					return "quantifier after a quantifier";
				quant = 1;
				for (; i <= j; i++)
					emit(b, in[i]);
				if (i < len && in[i] == '?')
					i++;
				continue;
			}
			emits(b, "\\{");
			i++;
			continue;
		}
		case '}':
			emits(b, "\\}");
			i++;
			continue;
		}
		emit(b, c);
		i++;
	}
	return b->over ? "pattern too long" : NULL;
}

/* Longest run of literal bytes at top level that every match must contain
 * (none if the regexp has a top-level '|'). */
static void required_literal(const char *re, struct sbuf *best)
{
	char run[512];
	size_t rn = 0;
	int depth = 0;

	best->n = 0;
	best->p[0] = '\0';
#define END_RUN()                                                                                                      \
	do {                                                                                                           \
		if (rn > best->n && rn < best->cap) {                                                                  \
			memcpy(best->p, run, rn);                                                                      \
			best->n = rn;                                                                                  \
			best->p[rn] = '\0';                                                                            \
		}                                                                                                      \
		rn = 0;                                                                                                \
	} while (0)
	for (size_t i = 0; re[i];) {
		char c = re[i];
		if (c == '\\' && re[i + 1]) {
			if (depth == 0 && rn < sizeof(run))
				run[rn++] = re[i + 1];
			i += 2;
			continue;
		}
		switch (c) {
		case '[':
			END_RUN();
			i++;
			if (re[i] == '^')
				i++;
			if (re[i] == ']')
				i++;
			while (re[i] && re[i] != ']') {
				if (re[i] == '[' && (re[i + 1] == ':' || re[i + 1] == '.' || re[i + 1] == '=')) {
					char t = re[i + 1];
					i += 2;
					while (re[i] && !(re[i] == t && re[i + 1] == ']'))
						i++;
					if (re[i])
						i += 2;
					continue;
				}
				i++;
			}
			if (re[i])
				i++;
			continue;
		case '(':
			END_RUN();
			depth++;
			break;
		case ')':
			END_RUN();
			depth--;
			break;
		case '|':
			if (depth == 0) {
				best->n = 0;
				best->p[0] = '\0';
				return;
			}
			END_RUN();
			break;
		case '*':
		case '?':
		case '{':
			if (rn)
				rn--; /* the quantified char is optional */
			END_RUN();
			if (c == '{')
				while (re[i] && re[i] != '}')
					i++;
			break;
		case '+':
		case '.':
		case '^':
		case '$': END_RUN(); break;
		default:
			if (depth == 0 && rn < sizeof(run))
				run[rn++] = c;
		}
		if (re[i])
			i++;
	}
	END_RUN();
#undef END_RUN
}

/* ---- CSV (RFC 4180) ------------------------------------------------------ */

struct csv {
	const uint8_t *p;
	size_t len, off;
	int line; /* current physical line, 1-based */
};

struct rec {
	char buf[TW_FP_RECORD_MAX + 1];
	size_t used;
	int nf;
	size_t fo[TW_FP_FIELDS_MAX], fl[TW_FP_FIELDS_MAX];
	int line; /* where the record starts */
};

static int rec_put(struct rec *r, uint8_t c, const char **why)
{
	if (c == 0) {
		*why = "NUL byte in field";
		return -1;
	}
	if (r->used >= TW_FP_RECORD_MAX) {
		*why = "line too long (record > 65536 bytes)";
		return -1;
	}
	r->buf[r->used++] = (char)c;
	return 0;
}

/* 1: record in r; 0: end of input; -1: error (why, *eline). */
static int csv_next(struct csv *c, struct rec *r, const char **why, int *eline)
{
	r->nf = 0;
	r->used = 0;
	r->line = c->line;
	*eline = c->line;
	if (c->off >= c->len)
		return 0;
	for (;;) { /* one field per pass; each consumes >= 1 byte or ends */
		if (r->nf == TW_FP_FIELDS_MAX) {
			*why = "too many fields (> 64)";
			return -1;
		}
		size_t start = r->used;
		if (c->off < c->len && c->p[c->off] == '"') {
			int qline = c->line;
			c->off++;
			for (;;) {
				if (c->off >= c->len) {
					*why = "unterminated quote";
					*eline = qline;
					return -1;
				}
				uint8_t ch = c->p[c->off++];
				if (ch == '"') {
					if (c->off < c->len && c->p[c->off] == '"') {
						c->off++;
					} else {
						break;
					}
				} else if (ch == '\n') {
					c->line++;
				}
				if (rec_put(r, ch, why) < 0) {
					*eline = c->line;
					return -1;
				}
			}
			if (c->off < c->len && c->p[c->off] != ',' && c->p[c->off] != '\n' && c->p[c->off] != '\r') {
				*why = "unexpected character after closing quote";
				*eline = c->line;
				return -1;
			}
		} else {
			while (c->off < c->len && c->p[c->off] != ',' && c->p[c->off] != '\n') {
				if (c->p[c->off] == '\r' && (c->off + 1 == c->len || c->p[c->off + 1] == '\n'))
					break;
				if (rec_put(r, c->p[c->off++], why) < 0) {
					*eline = c->line;
					return -1;
				}
			}
		}
		r->fo[r->nf] = start;
		r->fl[r->nf] = r->used - start;
		r->nf++;
		if (rec_put(r, 1, why) < 0) { /* room for the NUL */
			*eline = c->line;
			return -1;
		}
		r->buf[r->used - 1] = '\0';
		if (c->off >= c->len)
			return 1;
		if (c->p[c->off] == ',') {
			c->off++;
			continue;
		}
		if (c->p[c->off] == '\r')
			c->off++;
		if (c->off < c->len && c->p[c->off] == '\n') {
			c->off++;
			c->line++;
		}
		return 1;
	}
}

static const char *fld(const struct rec *r, int col)
{
	return col >= 0 && col < r->nf ? r->buf + r->fo[col] : "";
}

/* ---- loading --------------------------------------------------------------- */

enum { C_NAME, C_SCOPE, C_LOC, C_PTYPE, C_PAT, C_CONF, C_COUNTRIES, C_N };
static const char *const col_names[C_N] = {
	"name", "scope", "location_found", "pattern_type", "pattern", "confidence_no_fp", "expected_countries"
};
static const int col_required[C_N] = { 1, 0, 1, 1, 1, 0, 0 };
static const char *const ptype_names[] = { "full", "prefix", "contains", "regexp" };

static int valid_header_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!is_alnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return 0;
	return 1;
}

struct loadctx {
	struct tw_fp_db *db;
	const char *file; /* db-owned copy */
	char *why;        /* scratch for formatted reasons */
	size_t whylen;
};

static int push_entry(struct tw_fp_db *db, struct fp_entry *e)
{
	if (db->n == db->cap) {
		size_t nc = db->cap ? db->cap * 2 : 256;
		struct fp_entry **ne = realloc(db->e, nc * sizeof(*ne));
		if (!ne)
			return -1;
		db->e = ne;
		db->cap = nc;
	}
	e->ord = (unsigned)db->n;
	db->e[db->n++] = e;
	return 0;
}

/* 0 added or skipped; -1 error with lc->why set. */
static int add_row(struct loadctx *lc, const struct rec *r, const int *col)
{
	struct tw_fp_db *db = lc->db;
	char c1[80], c2[80];
	const char *name = fld(r, col[C_NAME]), *loc = fld(r, col[C_LOC]);
	const char *ptype = fld(r, col[C_PTYPE]), *pat = fld(r, col[C_PAT]);
	const char *conf = fld(r, col[C_CONF]);
	size_t plen = r->fl[col[C_PAT]];

	if (!*name) {
		snprintf(lc->why, lc->whylen, "empty name");
		return -1;
	}
	struct fp_entry *e = calloc(1, sizeof(*e));
	if (!e)
		goto oom;
	if (strcmp(loc, "body") == 0) {
		e->loc = LOC_BODY;
	} else if (strcmp(loc, "dns") == 0) {
		e->loc = LOC_DNS;
	} else if (strncmp(loc, "header.", 7) == 0 && valid_header_name(loc + 7)) {
		e->loc = LOC_HEADER;
		if (!(e->hdr = strdup(loc + 7)))
			goto oom;
		for (char *p = e->hdr; *p; p++)
			*p = (char)lower((uint8_t)*p);
	} else {
		clip(c1, sizeof(c1), loc);
		snprintf(lc->why, lc->whylen, "unknown location_found '%s'", c1);
		goto fail;
	}
	int pt = -1;
	for (int k = 0; k < 4; k++)
		if (strcmp(ptype, ptype_names[k]) == 0)
			pt = k;
	if (pt < 0) {
		clip(c1, sizeof(c1), ptype);
		snprintf(lc->why, lc->whylen, "unknown pattern_type '%s'", c1);
		goto fail;
	}
	e->ptype = (uint8_t)pt;
	if (plen == 0) {
		snprintf(lc->why, lc->whylen, "empty pattern");
		goto fail;
	}
	int confv = 0;
	if (*conf) {
		char *end;
		errno = 0;
		long v = strtol(conf, &end, 10);
		if (errno || *end || v < 0 || v > 100) {
			clip(c1, sizeof(c1), conf);
			snprintf(lc->why, lc->whylen, "bad confidence_no_fp '%s'", c1);
			goto fail;
		}
		confv = (int)v;
	}

	if (!(e->pat = malloc(plen + 1)) || !(e->raw_pat = strdup(pat)))
		goto oom;
	memcpy(e->pat, pat, plen + 1);
	e->plen = plen;
	if (e->loc == LOC_DNS && pt != PT_REGEXP)
		for (size_t k = 0; k < plen; k++)
			e->pat[k] = (char)lower((uint8_t)e->pat[k]);

	if (pt == PT_REGEXP) {
		size_t cap = plen * 12 + 16; /* worst case: every byte becomes [[:space:]] */
		struct sbuf ere = { malloc(cap), 0, cap, 0 };
		struct sbuf lit = { malloc(plen + 1), 0, plen + 1, 0 };
		int icase = 0, rc = 0;
		const char *bad = NULL;
		char rerr[128] = "";
		if (!ere.p || !lit.p) {
			free(ere.p);
			free(lit.p);
			goto oom;
		}
		ere.p[0] = '\0';
		bad = pcre_to_ere(pat, plen, &ere, &icase);
		if (!bad) {
			int flags = REG_EXTENDED | REG_NOSUB | REG_NEWLINE;
			if (icase || e->loc == LOC_DNS)
				flags |= REG_ICASE;
			rc = regcomp(&e->re, ere.p, flags);
			if (rc != 0) {
				regerror(rc, &e->re, rerr, sizeof(rerr));
				bad = rerr;
			} else {
				e->has_re = 1;
				if (!(flags & REG_ICASE)) {
					required_literal(ere.p, &lit);
					if (lit.n >= 3) {
						e->lit = lit.p;
						e->litlen = lit.n;
						lit.p = NULL;
					}
				}
			}
		}
		free(ere.p);
		free(lit.p);
		if (bad) {
			char msg[512];
			clip(c1, sizeof(c1), name);
			clip(c2, sizeof(c2), pat);
			snprintf(msg, sizeof(msg), "%s:%d: warning: skipped %s: regexp '%s': %s", lc->file, r->line, c1,
			         c2, bad);
			if (db->warn)
				db->warn(db->warn_arg, msg);
			db->skipped++;
			entry_free(e);
			return 0;
		}
	}

	if (!(e->name = dup_clean(name)) || !(e->scope = dup_clean(fld(r, col[C_SCOPE]))) ||
	    !(e->countries = dup_clean(fld(r, col[C_COUNTRIES]))) || !(e->location = dup_clean(loc)))
		goto oom;
	e->m.name = e->name;
	e->m.scope = e->scope;
	e->m.confidence_no_fp = confv;
	e->m.countries = e->countries;
	e->m.is_false_positive_scope = strcmp(e->scope, "fp") == 0;
	e->m.location = e->location;
	e->m.pattern_type = ptype_names[pt];
	e->m.pattern = e->raw_pat;
	e->m.file = lc->file;
	e->m.line = r->line;
	if (db->n >= TW_FP_ENTRIES_MAX) {
		snprintf(lc->why, lc->whylen, "too many fingerprints (> %u)", TW_FP_ENTRIES_MAX);
		goto fail;
	}
	if (push_entry(db, e) < 0)
		goto oom;
	return 0;
oom:
	snprintf(lc->why, lc->whylen, "out of memory");
fail:
	entry_free(e);
	return -1;
}

static uint32_t hash4(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return (v * 2654435761u) >> (32 - HBITS);
}

static int cmp_dns(const void *a, const void *b, void *arg)
{
	struct fp_entry **e = arg;
	const struct fp_entry *x = e[*(const uint32_t *)a], *y = e[*(const uint32_t *)b];
	int c = strcmp(x->pat, y->pat);
	return c ? c : (x->ord > y->ord) - (x->ord < y->ord);
}

static int build_index(struct tw_fp_db *db)
{
	index_free(db);
	size_t nb = 0, no = 0, nf = 0, nd = 0;
	for (size_t i = 0; i < db->n; i++) {
		const struct fp_entry *e = db->e[i];
		if (e->loc == LOC_BODY && e->ptype == PT_CONTAINS && e->plen >= 4)
			nb++;
		else if (e->loc == LOC_BODY)
			no++;
		else if (e->loc == LOC_DNS && e->ptype == PT_FULL)
			nf++;
		else if (e->loc == LOC_DNS)
			nd++;
	}
	db->bstart = calloc(NBUCKET + 1, sizeof(uint32_t));
	db->bitems = malloc((nb + 1) * sizeof(uint32_t));
	db->body_other = malloc((no + 1) * sizeof(uint32_t));
	db->dns_full = malloc((nf + 1) * sizeof(uint32_t));
	db->dns_other = malloc((nd + 1) * sizeof(uint32_t));
	if (!db->bstart || !db->bitems || !db->body_other || !db->dns_full || !db->dns_other) {
		index_free(db);
		return -1;
	}

	/* counting sort into buckets */
	for (size_t i = 0; i < db->n; i++) {
		const struct fp_entry *e = db->e[i];
		if (e->loc == LOC_BODY && e->ptype == PT_CONTAINS && e->plen >= 4)
			db->bstart[hash4((const uint8_t *)e->pat) + 1]++;
	}
	for (size_t h = 0; h < NBUCKET; h++)
		db->bstart[h + 1] += db->bstart[h];
	uint32_t *fill = malloc(NBUCKET * sizeof(uint32_t));
	if (!fill) {
		index_free(db);
		return -1;
	}
	memcpy(fill, db->bstart, NBUCKET * sizeof(uint32_t));

	for (size_t i = 0; i < db->n; i++) {
		const struct fp_entry *e = db->e[i];
		if (e->loc == LOC_BODY && e->ptype == PT_CONTAINS && e->plen >= 4) {
			uint32_t h = hash4((const uint8_t *)e->pat);
			db->bitems[fill[h]++] = (uint32_t)i;
			db->bmap[h >> 3] |= (uint8_t)(1u << (h & 7));
		} else if (e->loc == LOC_BODY) {
			db->body_other[db->n_body_other++] = (uint32_t)i;
		} else if (e->loc == LOC_DNS && e->ptype == PT_FULL) {
			db->dns_full[db->n_dns_full++] = (uint32_t)i;
		} else if (e->loc == LOC_DNS) {
			db->dns_other[db->n_dns_other++] = (uint32_t)i;
		} else {
			size_t g;
			for (g = 0; g < db->n_hg; g++)
				if (strcmp(db->hg[g].name, e->hdr) == 0)
					break;
			if (g == db->n_hg) {
				struct hdr_group *ng = realloc(db->hg, (db->n_hg + 1) * sizeof(*ng));
				if (!ng)
					goto oom;
				db->hg = ng;
				ng[g].name = strdup(e->hdr);
				ng[g].idx = NULL;
				ng[g].n = 0;
				db->n_hg++;
				if (!ng[g].name)
					goto oom;
			}
			uint32_t *ni = realloc(db->hg[g].idx, (db->hg[g].n + 1) * sizeof(uint32_t));
			if (!ni)
				goto oom;
			db->hg[g].idx = ni;
			ni[db->hg[g].n++] = (uint32_t)i;
		}
	}
	free(fill);
	qsort_r(db->dns_full, db->n_dns_full, sizeof(uint32_t), cmp_dns, db->e);
	return 0;
oom:
	free(fill);
	index_free(db);
	return -1;
}

static int load_buf(struct tw_fp_db *db, const char *file, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	size_t n0 = db->n, sk0 = db->skipped;
	char why[256] = "";
	const char *cwhy = NULL;
	int eline = 0, col[C_N], rc;
	struct csv c = { data, len, 0, 1 };
	struct rec *r = NULL;
	struct loadctx lc = { db, NULL, why, sizeof(why) };

	char **nf = realloc(db->files, (db->nfiles + 1) * sizeof(*nf));
	if (!nf)
		goto oom_file;
	db->files = nf;
	if (!(nf[db->nfiles] = strdup(file)))
		goto oom_file;
	lc.file = nf[db->nfiles++];
	if (!(r = malloc(sizeof(*r))))
		goto oom_file;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		c.off = 3;
	/* header: first non-blank record */
	do {
		rc = csv_next(&c, r, &cwhy, &eline);
	} while (rc == 1 && r->nf == 1 && r->fl[0] == 0);
	if (rc < 0)
		goto fail_line;
	if (rc == 0) {
		snprintf(err, errlen, "%s: empty file (no header)", file);
		goto fail;
	}
	for (int k = 0; k < C_N; k++)
		col[k] = -1;
	for (int f = 0; f < r->nf; f++) {
		const char *h = fld(r, f);
		size_t hl = r->fl[f];
		trim(&h, &hl);
		for (int k = 0; k < C_N; k++) {
			if (strlen(col_names[k]) != hl || strncasecmp(h, col_names[k], hl) != 0)
				continue;
			if (col[k] >= 0) {
				snprintf(why, sizeof(why), "bad header: duplicate column '%s'", col_names[k]);
				eline = r->line;
				goto fail_why;
			}
			col[k] = f;
		}
	}
	for (int k = 0; k < C_N; k++) {
		if (col_required[k] && col[k] < 0) {
			snprintf(why, sizeof(why), "bad header: no '%s' column", col_names[k]);
			eline = r->line;
			goto fail_why;
		}
	}
	int ncols = r->nf;

	while ((rc = csv_next(&c, r, &cwhy, &eline)) == 1) {
		if (r->nf == 1 && r->fl[0] == 0)
			continue; /* blank line */
		eline = r->line;
		if (r->nf != ncols) {
			snprintf(why, sizeof(why), "expected %d fields, got %d", ncols, r->nf);
			goto fail_why;
		}
		if (add_row(&lc, r, col) < 0)
			goto fail_why;
	}
	if (rc < 0)
		goto fail_line;
	if (build_index(db) < 0) {
		snprintf(err, errlen, "%s: out of memory", file);
		goto fail;
	}
	free(r);
	return 0;

fail_line:
	snprintf(why, sizeof(why), "%s", cwhy);
fail_why:
	snprintf(err, errlen, "%s:%d: %s", file, eline, why);
	goto fail;
oom_file:
	snprintf(err, errlen, "%s: out of memory", file);
fail:
	/* roll back this file's rows; the old index only refers to rows < n0 */
	for (size_t i = n0; i < db->n; i++)
		entry_free(db->e[i]);
	db->n = n0;
	db->skipped = sk0;
	free(r);
	if (db->n > 0 && !db->bstart)
		build_index(db);
	return -1;
}

int tw_fp_db_load_mem(struct tw_fp_db *db, const char *name, const uint8_t *data, size_t len, char *err, size_t errlen)
{
	if (len > TW_FP_FILE_MAX) {
		snprintf(err, errlen, "%s: too large (%zu bytes > %u)", name, len, TW_FP_FILE_MAX);
		return -1;
	}
	return load_buf(db, name, data ? data : (const uint8_t *)"", data ? len : 0, err, errlen);
}

int tw_fp_db_load(struct tw_fp_db *db, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > TW_FP_FILE_MAX) {
		snprintf(err, errlen, "%s: too large (%lld bytes > %u)", path, (long long)st.st_size, TW_FP_FILE_MAX);
		close(fd);
		return -1;
	}
	size_t len = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(len + 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < len) {
		ssize_t k = read(fd, buf + got, len - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			snprintf(err, errlen, "%s: read: %s", path, k < 0 ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)k;
	}
	close(fd);
	int rc = load_buf(db, path, buf, len, err, errlen);
	free(buf);
	return rc;
}

/* ---- matching ---------------------------------------------------------- */

struct mctx {
	const struct fp_entry *best;
	const struct tw_fp_match **out;
	size_t max, nout;
};

static int better(const struct fp_entry *a, const struct fp_entry *b)
{
	if (a->m.confidence_no_fp != b->m.confidence_no_fp)
		return a->m.confidence_no_fp > b->m.confidence_no_fp;
	if (a->plen != b->plen)
		return a->plen > b->plen;
	return a->ord < b->ord;
}

static void hit(struct mctx *c, const struct fp_entry *e)
{
	if (!c->best || better(e, c->best))
		c->best = e;
	if (!c->out)
		return;
	for (size_t i = 0; i < c->nout; i++)
		if (c->out[i] == &e->m)
			return;
	if (c->nout < c->max)
		c->out[c->nout++] = &e->m;
}

/* regexec on a NUL-terminated copy: REG_STARTEND alone would do for glibc
 * (and keeps embedded NULs searchable), but sanitizer interceptors strlen()
 * the string regardless. */
static int re_test(const struct fp_entry *e, const uint8_t *s, size_t n)
{
	char stack[2048], *buf = stack;
	if (n > (1u << 30))
		n = 1u << 30; /* regoff_t is an int */
	if (n >= sizeof(stack) && !(buf = malloc(n + 1)))
		return 0;
	if (n)
		memcpy(buf, s, n);
	buf[n] = '\0';
	regmatch_t m[1] = { { .rm_so = 0, .rm_eo = (regoff_t)n } };
	int rc = regexec(&e->re, buf, 1, m, REG_STARTEND);
	if (buf != stack)
		free(buf);
	return rc == 0;
}

static int test_entry(const struct fp_entry *e, const uint8_t *s, size_t n)
{
	switch (e->ptype) {
	case PT_FULL: return n == e->plen && memcmp(s, e->pat, n) == 0;
	case PT_PREFIX: return n >= e->plen && memcmp(s, e->pat, e->plen) == 0;
	case PT_CONTAINS: return memmem(s, n, e->pat, e->plen) != NULL;
	default:
		if (e->lit && !memmem(s, n, e->lit, e->litlen))
			return 0;
		return re_test(e, s, n);
	}
}

static void match_body(const struct tw_fp_db *db, const uint8_t *b, size_t n, struct mctx *c)
{
	if (n >= 4) {
		for (size_t i = 0; i + 4 <= n; i++) {
			uint32_t h = hash4(b + i);
			if (!(db->bmap[h >> 3] & (1u << (h & 7))))
				continue;
			for (uint32_t k = db->bstart[h]; k < db->bstart[h + 1]; k++) {
				const struct fp_entry *e = db->e[db->bitems[k]];
				if (e->plen <= n - i && memcmp(b + i, e->pat, e->plen) == 0)
					hit(c, e);
			}
		}
	}
	for (size_t k = 0; k < db->n_body_other; k++) {
		const struct fp_entry *e = db->e[db->body_other[k]];
		if (test_entry(e, b, n))
			hit(c, e);
	}
}

static void match_header(const struct tw_fp_db *db, const uint8_t *name, size_t nlen, const uint8_t *val, size_t vlen,
                         struct mctx *c)
{
	for (size_t g = 0; g < db->n_hg; g++) {
		const struct hdr_group *hg = &db->hg[g];
		if (strlen(hg->name) != nlen)
			continue;
		size_t j = 0;
		while (j < nlen && lower(name[j]) == (uint8_t)hg->name[j])
			j++;
		if (j != nlen)
			continue;
		for (size_t k = 0; k < hg->n; k++)
			if (test_entry(db->e[hg->idx[k]], val, vlen))
				hit(c, db->e[hg->idx[k]]);
		return;
	}
}

static void match_http(const struct tw_fp_db *db, const uint8_t *p, size_t len, struct mctx *c)
{
	if (!db || db->n == 0 || !db->bstart)
		return;
	if (!p)
		len = 0;
	if (len < 5 || memcmp(p, "HTTP/", 5) != 0) {
		match_body(db, p, len, c);
		return;
	}
	const uint8_t *lf = memchr(p, '\n', len);
	size_t off = lf ? (size_t)(lf - p) + 1 : len;
	/* each header line consumes >= 1 byte */
	while (off < len) {
		lf = memchr(p + off, '\n', len - off);
		if (!lf)
			return; /* head incomplete: no body, partial line ignored */
		const uint8_t *l = p + off;
		size_t n = (size_t)(lf - l);
		off += n + 1;
		if (n && l[n - 1] == '\r')
			n--;
		if (n == 0) {
			match_body(db, p + off, len - off, c);
			return;
		}
		const uint8_t *colon = memchr(l, ':', n);
		if (!colon || l[0] == ' ' || l[0] == '\t')
			continue;
		const char *name = (const char *)l, *val = (const char *)colon + 1;
		size_t nlen = (size_t)(colon - l), vlen = (size_t)(l + n - colon - 1);
		trim(&name, &nlen);
		trim(&val, &vlen);
		match_header(db, (const uint8_t *)name, nlen, (const uint8_t *)val, vlen, c);
	}
}

const struct tw_fp_match *tw_fp_match_http(const struct tw_fp_db *db, const uint8_t *raw, size_t len)
{
	struct mctx c = { 0 };
	match_http(db, raw, len, &c);
	return c.best ? &c.best->m : NULL;
}

size_t tw_fp_match_http_all(const struct tw_fp_db *db, const uint8_t *raw, size_t len, const struct tw_fp_match **out,
                            size_t max)
{
	struct mctx c = { NULL, out, max, 0 };
	match_http(db, raw, len, &c);
	return c.nout;
}

const struct tw_fp_match *tw_fp_match_dns(const struct tw_fp_db *db, const char *answer)
{
	char a[1024];
	struct mctx c = { 0 };
	size_t n = 0;

	if (!db || !answer || !db->bstart)
		return NULL;
	while (answer[n] && n < sizeof(a) - 1) {
		a[n] = (char)lower((uint8_t)answer[n]);
		n++;
	}
	if (n > 1 && a[n - 1] == '.')
		n--;
	a[n] = '\0';

	/* lower bound of a in the sorted full-match list */
	size_t lo = 0, hi = db->n_dns_full;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(db->e[db->dns_full[mid]]->pat, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < db->n_dns_full && strcmp(db->e[db->dns_full[lo]]->pat, a) == 0; lo++)
		hit(&c, db->e[db->dns_full[lo]]);
	for (size_t k = 0; k < db->n_dns_other; k++) {
		const struct fp_entry *e = db->e[db->dns_other[k]];
		if (test_entry(e, (const uint8_t *)a, n))
			hit(&c, e);
	}
	return c.best ? &c.best->m : NULL;
}
