/* Alert line -> Alertmanager alert (docs/outputs.md, Alertmanager): the labels that
 * identify and route an alert, the annotations that explain it, and its
 * time range.  Reads only the alert schema of docs/schema.md; client addresses
 * never get in: the scope keeps prefixes only. */
#ifndef TW_AM_MAP_H
#define TW_AM_MAP_H
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define TW_AM_MAX_LABELS 16 /* extra static labels (alertmanager.labels) */
#define TW_AM_MAX_URLS 4    /* Alertmanagers of one cluster (alertmanager.url) */
#define TW_AM_URL_MAX 512
#define TW_AM_VALUE_MAX 256 /* label values are cut here (UTF-8 safe) */
#define TW_AM_NOTE_MAX 1024 /* annotation values are cut here */

struct tw_am_label {
	char name[64];
	char value[128];
};

struct tw_am_labels {
	struct tw_am_label l[TW_AM_MAX_LABELS];
	int n;
};

struct tw_am_alert {
	char id[64];
	int resolved;      /* state "resolved" (else raised/updated: open) */
	char *labels;      /* JSON object text (malloc'd): Alertmanager's identity of the alert */
	char *annotations; /* JSON object text (malloc'd) */
	int64_t starts_ns;
	int64_t ends_ns; /* resolved: the resolution time; 0 while open */
};

/* Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, not "__"-prefixed (reserved). */
int tw_am_label_name_ok(const char *s);
/* "name=value, name=value": 0, or -1 with a one-line reason in err.  Names
 * the daemon sets itself (alertname, method, ...) are refused. */
int tw_am_parse_labels(const char *s, struct tw_am_labels *out, char *err, size_t errlen);
/* "http://h:9093, https://h2:9093/prefix": 0, or -1 with a reason in err.
 * urls receive each base URL without a trailing '/'. */
int tw_am_parse_urls(const char *s, char urls[][TW_AM_URL_MAX], int *n, char *err, size_t errlen);

/* line: a parsed event_type "alert" line.  now_ns: wall clock; times later
 * than it are clamped to it (a resolved alert is never shown as active).
 * unsafe (may be NULL) is increased by the scope entries left out because
 * they were not prefixes.  0, or -1 with a reason in err. */
int tw_am_map(struct json_object *line, const struct tw_am_labels *extra, int64_t now_ns, struct tw_am_alert *out,
              uint64_t *unsafe, char *err, size_t errlen);
void tw_am_alert_clear(struct tw_am_alert *a);

/* RFC 3339 UTC with milliseconds ("2023-11-14T22:13:20.123Z"). */
void tw_am_time(int64_t ns, char *out, size_t cap);
/* EVE ("2023-11-14T22:13:20.123456+0000") or RFC 3339 'Z' time: 0, or -1. */
int tw_am_parse_time(const char *s, int64_t *ns);
#endif
