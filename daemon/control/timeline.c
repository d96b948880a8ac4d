#include "control/timeline.h"
#include "outputs/bus.h"
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

void tw_timeline_init(struct tw_timeline *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
}

static void alert_free(struct tw_tl_alert *a)
{
	free(a->first);
	for (int i = 0; i < TW_TL_LINES - 1; i++)
		free(a->ring[i]);
}

void tw_timeline_free(struct tw_timeline *t)
{
	for (size_t i = 0; i < t->n; i++)
		alert_free(&t->v[i]);
	free(t->v);
	pthread_mutex_destroy(&t->mu);
	memset(t, 0, sizeof(*t));
}

/* caller holds mu: a slot for a new alert, or NULL (counted) */
static struct tw_tl_alert *new_slot(struct tw_timeline *t)
{
	size_t nopen = 0, nres = 0, oldest = SIZE_MAX;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].open) {
			nopen++;
		} else {
			nres++;
			if (oldest == SIZE_MAX || t->v[i].order < t->v[oldest].order)
				oldest = i;
		}
	}
	if (nopen >= TW_TL_MAX_OPEN) {
		t->alerts_untracked++;
		return NULL;
	}
	if (nres >= TW_TL_MAX_RESOLVED) { /* reuse the oldest resolved one */
		alert_free(&t->v[oldest]);
		t->evicted++;
		memset(&t->v[oldest], 0, sizeof(t->v[oldest]));
		return &t->v[oldest];
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		struct tw_tl_alert *nv = realloc(t->v, nc * sizeof(*nv));
		if (!nv) {
			t->oom++;
			return NULL;
		}
		t->v = nv;
		t->cap = nc;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	return &t->v[t->n++];
}

void tw_timeline_sink(void *arg, const char *line, size_t len, struct json_object *obj)
{
	struct tw_timeline *t = arg;
	struct json_object *et;
	if (!json_object_object_get_ex(obj, "event_type", &et) || strcmp(json_object_get_string(et), "alert"))
		return;
	const char *id = tw_bus_field(obj, "alert", "id"), *state = tw_bus_field(obj, "alert", "state");
	if (!*id || strlen(id) >= sizeof(t->v[0].id) || !*state)
		return;
	char *copy = strndup(line, len); /* JSON lines hold no NUL */
	pthread_mutex_lock(&t->mu);
	if (!copy) {
		t->oom++;
		goto out;
	}
	struct tw_tl_alert *a = NULL;
	for (size_t i = 0; i < t->n && !a; i++)
		if (!strcmp(t->v[i].id, id))
			a = &t->v[i];
	if (!a) {
		if (!(a = new_slot(t))) {
			free(copy);
			goto out;
		}
		memcpy(a->id, id, strlen(id) + 1);
		a->first = copy;
	} else {
		size_t slot = a->nlater % (TW_TL_LINES - 1);
		if (a->ring[slot])
			t->lines_omitted++;
		free(a->ring[slot]);
		a->ring[slot] = copy;
		a->nlater++;
	}
	a->open = strcmp(state, "resolved") != 0;
	a->order = ++t->order;
out:
	pthread_mutex_unlock(&t->mu);
}

long tw_timeline_get(struct tw_timeline *t, const char *id, char ***lines, uint64_t *omitted)
{
	long n = 0;
	*lines = NULL;
	*omitted = 0;
	pthread_mutex_lock(&t->mu);
	struct tw_tl_alert *a = NULL;
	for (size_t i = 0; i < t->n && !a; i++)
		if (!strcmp(t->v[i].id, id))
			a = &t->v[i];
	if (!a)
		goto out;
	char **v = calloc(TW_TL_LINES, sizeof(*v));
	if (!v) {
		n = -1;
		goto out;
	}
	uint64_t kept = a->nlater < TW_TL_LINES - 1 ? a->nlater : TW_TL_LINES - 1;
	*omitted = a->nlater - kept;
	v[n++] = a->first;
	for (uint64_t k = a->nlater - kept; k < a->nlater; k++)
		v[n++] = a->ring[k % (TW_TL_LINES - 1)];
	for (long i = 0; i < n; i++)
		if (!(v[i] = strdup(v[i]))) {
			tw_timeline_lines_free(v, i);
			n = -1;
			goto out;
		}
	*lines = v;
out:
	pthread_mutex_unlock(&t->mu);
	return n;
}

void tw_timeline_lines_free(char **lines, long n)
{
	for (long i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
