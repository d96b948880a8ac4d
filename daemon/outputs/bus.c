#include "outputs/bus.h"
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void tw_bus_init(struct tw_bus *b, tw_line_fn log, void *log_arg)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->log.fn = log;
	b->log.arg = log_arg;
}

void tw_bus_free(struct tw_bus *b)
{
	for (size_t i = 0; i < b->nopen; i++)
		free(b->open[i].line);
	free(b->open);
	for (size_t i = 0; i < TW_BUS_RECENT; i++)
		free(b->recent[i]);
	pthread_mutex_destroy(&b->mu);
	memset(b, 0, sizeof(*b));
}

int tw_bus_add_sink(struct tw_bus *b, const char *name, tw_sink_fn fn, void *arg)
{
	if (b->nsinks == TW_BUS_MAX_SINKS)
		return -1;
	b->sinks[b->nsinks].name = name;
	b->sinks[b->nsinks].fn = fn;
	b->sinks[b->nsinks].arg = arg;
	b->nsinks++;
	return 0;
}

static const char *get_str(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v;
	if (k1 && !json_object_object_get_ex(o, k1, &a))
		return "";
	if (!json_object_object_get_ex(a, k2, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

const char *tw_bus_field(struct json_object *o, const char *obj, const char *key)
{
	return get_str(o, obj, key);
}

static char *dup_line(const char *line, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, line, len);
		p[len] = 0;
	}
	return p;
}

static void bounded_copy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = 0;
}

static struct tw_bus_count *count_for(struct tw_bus *b, const char *cat, const char *method, const char *legit)
{
	for (size_t i = 0; i < b->ncounts; i++) {
		struct tw_bus_count *c = &b->counts[i];
		if (!strcmp(c->category, cat) && !strcmp(c->method, method) && !strcmp(c->legitimacy, legit))
			return c;
	}
	if (b->ncounts == TW_BUS_MAX_COUNTS)
		return NULL;
	struct tw_bus_count *c = &b->counts[b->ncounts++];
	memset(c, 0, sizeof(*c));
	bounded_copy(c->category, sizeof(c->category), cat);
	bounded_copy(c->method, sizeof(c->method), method);
	bounded_copy(c->legitimacy, sizeof(c->legitimacy), legit);
	return c;
}

/* caller holds the mutex */
static void track_alert(struct tw_bus *b, struct json_object *o, const char *line, size_t len)
{
	const char *id = get_str(o, "alert", "id");
	const char *state = get_str(o, "alert", "state");
	struct tw_bus_count *c = count_for(b, get_str(o, "alert", "category"), get_str(o, "censorship", "method"),
	                                   get_str(o, "censorship", "legitimacy"));
	size_t slot = b->recent_next % TW_BUS_RECENT;
	char *copy = dup_line(line, len);

	b->alerts++;
	if (!copy) {
		b->oom++;
	} else {
		free(b->recent[slot]);
		b->recent[slot] = copy;
		b->recent_len[slot] = len;
		b->recent_next++;
	}
	if (!c)
		b->count_overflow++;

	size_t i;
	for (i = 0; i < b->nopen; i++)
		if (!strcmp(b->open[i].id, id))
			break;
	int resolved = !strcmp(state, "resolved");
	if (i < b->nopen) { /* known open alert */
		if (resolved) {
			free(b->open[i].line);
			b->open[i] = b->open[--b->nopen];
			if (c) {
				c->resolved++;
				if (c->open)
					c->open--;
			}
			return;
		}
		char *l = dup_line(line, len);
		if (l) {
			free(b->open[i].line);
			b->open[i].line = l;
			b->open[i].len = len;
		} else {
			b->oom++;
		}
		if (c)
			c->updated++;
		return;
	}
	if (resolved) { /* opened before a restart, or untracked */
		if (c)
			c->resolved++;
		return;
	}
	/* raised (or an update of an alert restored from state) */
	if (c) {
		if (!strcmp(state, "raised"))
			c->raised++;
		else
			c->updated++;
		c->open++;
	}
	if (b->nopen == TW_BUS_MAX_OPEN) {
		b->open_overflow++;
		return;
	}
	if (b->nopen == b->open_cap) {
		size_t ncap = b->open_cap ? b->open_cap * 2 : 16;
		struct tw_bus_alert *n = realloc(b->open, ncap * sizeof(*n));
		if (!n) {
			b->oom++;
			return;
		}
		b->open = n;
		b->open_cap = ncap;
	}
	char *l = dup_line(line, len);
	if (!l) {
		b->oom++;
		return;
	}
	struct tw_bus_alert *a = &b->open[b->nopen++];
	bounded_copy(a->id, sizeof(a->id), id);
	a->line = l;
	a->len = len;
}

void tw_bus_line(struct tw_bus *b, const char *line, size_t len)
{
	tw_line_put(&b->log, line, len);

	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	if (tok)
		json_tokener_free(tok);
	pthread_mutex_lock(&b->mu);
	b->lines++;
	if (!o || !json_object_is_type(o, json_type_object)) {
		b->parse_errors++;
		pthread_mutex_unlock(&b->mu);
		json_object_put(o);
		return;
	}
	struct json_object *et;
	int is_alert = json_object_object_get_ex(o, "event_type", &et) && !strcmp(json_object_get_string(et), "alert");
	if (is_alert)
		track_alert(b, o, line, len);
	pthread_mutex_unlock(&b->mu);
	for (int i = 0; i < b->nsinks; i++)
		b->sinks[i].fn(b->sinks[i].arg, line, len, o);
	json_object_put(o);
}

void tw_bus_emit(void *bus, const char *line, size_t len)
{
	tw_bus_line(bus, line, len);
}
