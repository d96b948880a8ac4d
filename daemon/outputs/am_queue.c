#include "outputs/am_queue.h"
#include "util/state.h"
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL_FORMAT "tamperwatch-alertmanager-spool"

void tw_am_queue_init(struct tw_am_queue *q, size_t max, int nurls, int64_t resend_ns)
{
	memset(q, 0, sizeof(*q));
	q->max = max;
	q->nurls = nurls;
	q->resend_ns = resend_ns;
	q->next_serial = 1;
}

static void entry_free(struct tw_am_entry *e)
{
	if (e) {
		free(e->labels);
		free(e->annotations);
		free(e);
	}
}

void tw_am_queue_free(struct tw_am_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		entry_free(q->e[i]);
	free(q->e);
	memset(q, 0, sizeof(*q));
}

static uint32_t all_urls(const struct tw_am_queue *q)
{
	return q->nurls >= 32 ? 0xffffffffu : (1u << q->nurls) - 1;
}

static void remove_at(struct tw_am_queue *q, size_t i)
{
	entry_free(q->e[i]);
	/* keep the order: batches go oldest first */
	memmove(&q->e[i], &q->e[i + 1], (q->n - i - 1) * sizeof(q->e[0]));
	q->n--;
	q->changes++;
}

/* a new version of e: every URL gets it */
static void changed(struct tw_am_queue *q, struct tw_am_entry *e)
{
	e->pending = all_urls(q);
	e->solo = 0;
	e->gen++;
	q->changes++;
	q->st.queued++;
}

static void take_annotations(struct tw_am_entry *e, struct tw_am_alert *a)
{
	free(e->annotations);
	e->annotations = a->annotations;
	a->annotations = NULL;
}

/* room for one more entry: the oldest resolved one makes way (Alertmanager
 * resolves it on its own once its last endsAt passes); open alerts never do */
static int make_room(struct tw_am_queue *q)
{
	if (q->n < q->max) {
		if (q->n == q->cap) {
			size_t ncap = q->cap ? q->cap * 2 : 16;
			struct tw_am_entry **ne = realloc(q->e, ncap * sizeof(*ne));
			if (!ne)
				return -1;
			q->e = ne;
			q->cap = ncap;
		}
		return 0;
	}
	for (size_t i = 0; i < q->n; i++)
		if (q->e[i]->ends_ns) {
			q->st.overflow++;
			remove_at(q, i);
			return 0;
		}
	return -1;
}

static int insert(struct tw_am_queue *q, struct tw_am_alert *a)
{
	struct tw_am_entry *e;
	if (make_room(q) < 0 || !(e = calloc(1, sizeof(*e)))) {
		q->st.overflow++;
		tw_am_alert_clear(a);
		return -1;
	}
	e->serial = q->next_serial++;
	snprintf(e->id, sizeof(e->id), "%s", a->id);
	e->labels = a->labels;
	e->annotations = a->annotations;
	e->starts_ns = a->starts_ns;
	e->ends_ns = a->ends_ns;
	a->labels = a->annotations = NULL;
	changed(q, e);
	q->e[q->n++] = e;
	tw_am_alert_clear(a);
	return 0;
}

int tw_am_queue_put(struct tw_am_queue *q, struct tw_am_alert *a, int64_t now)
{
	struct tw_am_entry *open = NULL, *same = NULL;
	for (size_t i = 0; i < q->n; i++) {
		struct tw_am_entry *e = q->e[i];
		if (!e->ends_ns && !strcmp(e->id, a->id))
			open = e;
		if (!strcmp(e->labels, a->labels))
			same = e;
	}
	if (open && (a->resolved || !strcmp(open->labels, a->labels))) {
		/* the open labelset goes on, or ends (a resolution keeps the labels
		 * Alertmanager knows the alert by) */
		take_annotations(open, a);
		if (a->resolved)
			open->ends_ns = a->ends_ns > open->starts_ns ? a->ends_ns : open->starts_ns;
		changed(q, open);
		tw_am_alert_clear(a);
		return 0;
	}
	if (open) {
		/* labels changed (method, severity): end the old labelset now */
		open->ends_ns = now > open->starts_ns ? now : open->starts_ns;
		changed(q, open);
	}
	if (same) {
		/* a version of a labelset still in the outbox */
		take_annotations(same, a);
		same->starts_ns = a->starts_ns;
		same->ends_ns = a->ends_ns;
		changed(q, same);
		tw_am_alert_clear(a);
		return 0;
	}
	return insert(q, a);
}

static struct tw_am_entry *by_serial(const struct tw_am_queue *q, uint64_t serial, size_t *at)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->e[i]->serial == serial) {
			*at = i;
			return q->e[i];
		}
	return NULL;
}

static int due(const struct tw_am_entry *e, uint32_t bit, int u, int64_t now, int resends)
{
	return (e->pending & bit) || (resends && !e->ends_ns && e->resend_at[u] <= now);
}

size_t tw_am_queue_batch(struct tw_am_queue *q, int u, int64_t now, int resends, const char *generator_url,
                         struct tw_am_batch *b)
{
	uint32_t bit = 1u << u;
	memset(b, 0, sizeof(*b));
	/* one refused before goes alone, so the others are not held up by it */
	size_t solo = q->n;
	for (size_t i = 0; i < q->n && solo == q->n; i++)
		if (due(q->e[i], bit, u, now, resends) && (q->e[i]->solo & bit))
			solo = i;
	size_t cap = 4096, len = 1;
	char *body = malloc(cap);
	if (!body)
		return 0;
	body[0] = '[';
	for (size_t i = solo < q->n ? solo : 0; i < q->n && b->n < TW_AM_BATCH; i++) {
		struct tw_am_entry *e = q->e[i];
		if (!due(e, bit, u, now, resends) || (solo == q->n && (e->solo & bit)))
			continue;
		char starts[40], ends[40];
		tw_am_time(e->starts_ns, starts, sizeof(starts));
		tw_am_time(e->ends_ns ? e->ends_ns : now + 4 * q->resend_ns, ends, sizeof(ends));
		size_t need =
		        strlen(e->labels) + strlen(e->annotations) + (generator_url ? strlen(generator_url) : 0) + 160;
		if (b->n && len + need > TW_AM_BATCH_BYTES)
			break;
		if (len + need > cap) {
			size_t ncap = (len + need) * 2;
			char *nb = realloc(body, ncap);
			if (!nb)
				break;
			body = nb;
			cap = ncap;
		}
		len += (size_t)snprintf(
		        body + len, cap - len,
		        "%s{\"labels\":%s,\"annotations\":%s,\"startsAt\":\"%s\",\"endsAt\":\"%s\"%s%s}",
		        b->n ? "," : "", e->labels, e->annotations, starts, ends,
		        generator_url ? ",\"generatorURL\":" : "", generator_url ? generator_url : "");
		b->serial[b->n] = e->serial;
		b->gen[b->n] = e->gen;
		b->resend[b->n] = !(e->pending & bit);
		b->n++;
		if (solo < q->n)
			break;
	}
	if (!b->n) {
		free(body);
		return 0;
	}
	body[len++] = ']';
	body[len] = 0;
	b->body = body;
	b->len = len;
	return b->n;
}

void tw_am_batch_free(struct tw_am_batch *b)
{
	free(b->body);
	b->body = NULL;
}

void tw_am_queue_done(struct tw_am_queue *q, int u, const struct tw_am_batch *b, enum tw_am_outcome o, int64_t now)
{
	uint32_t bit = 1u << u;
	if (o == TW_AM_RETRY)
		return;
	for (size_t i = 0; i < b->n; i++) {
		size_t at;
		struct tw_am_entry *e = by_serial(q, b->serial[i], &at);
		if (!e)
			continue;
		if (o == TW_AM_REFUSED && b->n > 1) {
			e->solo |= bit; /* find out which one: each goes alone */
			continue;
		}
		if (o == TW_AM_DELIVERED) {
			q->st.delivered++;
			if (b->resend[i])
				q->st.resent++;
		} else {
			q->st.rejected++;
		}
		if (!e->ends_ns)
			e->resend_at[u] = now + q->resend_ns;
		if (e->gen != b->gen[i])
			continue; /* changed meanwhile: the new version is still due */
		e->pending &= ~bit;
		e->solo &= ~bit;
		if (e->ends_ns && !e->pending)
			remove_at(q, at);
	}
}

size_t tw_am_queue_pending(const struct tw_am_queue *q, int u)
{
	uint32_t mask = u < 0 ? all_urls(q) : 1u << u;
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		n += (q->e[i]->pending & mask) != 0;
	return n;
}

size_t tw_am_queue_open(const struct tw_am_queue *q)
{
	size_t n = 0;
	for (size_t i = 0; i < q->n; i++)
		n += !q->e[i]->ends_ns;
	return n;
}

int64_t tw_am_queue_next_due(const struct tw_am_queue *q, int u, int resends)
{
	int64_t t = INT64_MAX;
	for (size_t i = 0; i < q->n; i++) {
		const struct tw_am_entry *e = q->e[i];
		if (e->pending & (1u << u))
			return 0;
		if (resends && !e->ends_ns && e->resend_at[u] < t)
			t = e->resend_at[u];
	}
	return t;
}

/* ---- spool ------------------------------------------------------------ */

char *tw_am_spool_text(const struct tw_am_queue *q, size_t *len)
{
	size_t cap = 256;
	for (size_t i = 0; i < q->n; i++)
		cap += strlen(q->e[i]->labels) + strlen(q->e[i]->annotations) + 200;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	size_t n = (size_t)snprintf(s, cap, "{\"format\":\"%s\",\"version\":%d,\"entries\":[", SPOOL_FORMAT,
	                            TW_AM_SPOOL_VERSION);
	for (size_t i = 0; i < q->n; i++) {
		const struct tw_am_entry *e = q->e[i];
		/* ids are [A-Za-z0-9._:-] (tw_am_map checks): no escaping needed */
		n += (size_t)snprintf(
		        s + n, cap - n,
		        "%s\n{\"id\":\"%s\",\"labels\":%s,\"annotations\":%s,\"starts_ns\":%lld,\"ends_ns\":%lld}",
		        i ? "," : "", e->id, e->labels, e->annotations, (long long)e->starts_ns, (long long)e->ends_ns);
	}
	n += (size_t)snprintf(s + n, cap - n, "]}\n");
	*len = n;
	return s;
}

int tw_am_spool_save(const struct tw_am_queue *q, const char *dir, char *err, size_t errlen)
{
	size_t n;
	char *s = tw_am_spool_text(q, &n);
	if (!s) {
		snprintf(err, errlen, "%s/%s: out of memory", dir, TW_AM_SPOOL_NAME);
		return -1;
	}
	int rc = tw_state_save(dir, TW_AM_SPOOL_NAME, s, n, err, errlen);
	free(s);
	return rc;
}

static int labels_ok(struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "alertname", NULL))
		return 0;
	json_object_object_foreach(o, k, v)
	{
		if (!tw_am_label_name_ok(k) || !json_object_is_type(v, json_type_string))
			return 0;
	}
	return 1;
}

static int notes_ok(struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return 0;
	json_object_object_foreach(o, k, v)
	{
		(void)k;
		if (!json_object_is_type(v, json_type_string))
			return 0;
	}
	return 1;
}

static int id_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n >= 64)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

static char *text(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? strdup(s) : NULL;
}

int tw_am_spool_load(struct tw_am_queue *q, const char *dir, uint64_t *dropped, char *err, size_t errlen)
{
	void *data;
	size_t len;
	int rc = tw_state_load(dir, TW_AM_SPOOL_NAME, &data, &len, err, errlen);
	if (rc <= 0)
		return rc;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root = tok ? json_tokener_parse_ex(tok, data, (int)len) : NULL, *v, *entries;
	if (tok)
		json_tokener_free(tok);
	free(data);
	const char *why = NULL;
	if (!root || !json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "format", &v) ||
	    strcmp(json_object_get_string(v), SPOOL_FORMAT))
		why = "not an Alertmanager spool";
	else if (!json_object_object_get_ex(root, "version", &v) || json_object_get_int(v) != TW_AM_SPOOL_VERSION)
		why = "unsupported spool version";
	else if (!json_object_object_get_ex(root, "entries", &entries) ||
	         !json_object_is_type(entries, json_type_array))
		why = "no entries";
	if (why) {
		char path[4096], aside[4200];
		json_object_put(root);
		snprintf(path, sizeof(path), "%s/%s", dir, TW_AM_SPOOL_NAME);
		if (tw_state_set_aside(path, aside, sizeof(aside)) < 0)
			snprintf(err, errlen, "%s: %s; could not move it aside: %s", path, why, strerror(errno));
		else
			snprintf(err, errlen, "%s: %s; moved aside to %s, starting with an empty queue", path, why,
			         aside);
		return -1;
	}
	size_t ne = json_object_array_length(entries);
	for (size_t i = 0; i < ne; i++) {
		struct json_object *e = json_object_array_get_idx(entries, i), *id, *l, *a, *s, *en;
		if (!json_object_is_type(e, json_type_object) || !json_object_object_get_ex(e, "id", &id) ||
		    !json_object_is_type(id, json_type_string) || !id_ok(json_object_get_string(id)) ||
		    !json_object_object_get_ex(e, "labels", &l) || !labels_ok(l) ||
		    !json_object_object_get_ex(e, "annotations", &a) || !notes_ok(a) ||
		    !json_object_object_get_ex(e, "starts_ns", &s) || !json_object_is_type(s, json_type_int) ||
		    !json_object_object_get_ex(e, "ends_ns", &en) || !json_object_is_type(en, json_type_int) ||
		    json_object_get_int64(s) < 0 || json_object_get_int64(en) < 0 || q->n >= q->max) {
			(*dropped)++;
			continue;
		}
		struct tw_am_alert al = { .starts_ns = json_object_get_int64(s), .ends_ns = json_object_get_int64(en) };
		snprintf(al.id, sizeof(al.id), "%s", json_object_get_string(id));
		al.resolved = al.ends_ns != 0;
		al.labels = text(l);
		al.annotations = text(a);
		if (!al.labels || !al.annotations) {
			tw_am_alert_clear(&al);
			(*dropped)++;
			continue;
		}
		if (insert(q, &al) < 0)
			(*dropped)++;
	}
	json_object_put(root);
	return 1;
}
