#include "outputs/evidence.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outputs/evpcap.h"
#include "util/jsonbuf.h"

#define NS 1000000000ull

struct evf {
	uint64_t id;
	struct evf *hnext;       /* hash chain */
	struct evf *prev, *next; /* live list (creation order) or kept list (end order) */
	uint8_t tampered, injected, kept;
	uint64_t ended_wall;
	uint16_t n;
	size_t bytes;
	struct tw_event *ev[TW_EVIDENCE_MAX_EVENTS];
};

struct list {
	struct evf *head, *tail;
};

struct alert_track {
	char id[65];
	uint64_t last_use;
	int ntried, over;
	uint64_t *tried; /* flow ids already looked for (max_flows_per_alert) */
};

struct tw_evidence {
	struct tw_evidence_cfg c;
	struct tw_pseudonym pn;
	int64_t clock_offset;
	struct evf **b;
	size_t mask;
	struct list live, kept;
	struct alert_track *al;
	size_t nal;
	uint64_t use_clock;
	struct tw_evidence_stats st;
};

void tw_evidence_cfg_default(struct tw_evidence_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->max_flows_per_alert = 16;
	c->max_bytes_per_file = 4 << 20;
	c->memory = 64 << 20;
	c->retain = 900;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static struct evf **slot(struct tw_evidence *ev, uint64_t id)
{
	struct evf **p = &ev->b[mix(id) & ev->mask];
	while (*p && (*p)->id != id)
		p = &(*p)->hnext;
	return p;
}

static void list_del(struct list *l, struct evf *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
}

static void list_add(struct list *l, struct evf *f)
{
	f->prev = l->tail;
	f->next = NULL;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

static void flow_free(struct tw_evidence *ev, struct evf *f)
{
	struct evf **p = slot(ev, f->id);
	if (*p == f)
		*p = f->hnext;
	list_del(f->kept ? &ev->kept : &ev->live, f);
	for (int i = 0; i < f->n; i++)
		free(f->ev[i]);
	ev->st.memory_bytes -= f->bytes;
	ev->st.flows--;
	free(f);
}

/* Oldest live flows go first (most never get a verdict), then the oldest
 * tampered flows still waiting for an alert; the flow being added to goes
 * last, so a full store of old tampered flows does not lock new ones out. */
static void enforce_budget(struct tw_evidence *ev, struct evf *cur)
{
	while (ev->st.memory_bytes > (uint64_t)ev->c.memory) {
		struct evf *f = ev->live.head;
		if (f == cur)
			f = f->next;
		if (!f)
			f = ev->kept.head ? ev->kept.head : cur;
		if (!f)
			return;
		if (f->tampered)
			ev->st.evicted_tampered++;
		else
			ev->st.evicted_live++;
		int last = f == cur;
		flow_free(ev, f);
		if (last)
			return;
	}
}

struct tw_evidence *tw_evidence_new(const struct tw_evidence_cfg *cfg, const struct tw_pseudonym *pn,
                                    int64_t clock_offset_ns, char *err, size_t errlen)
{
	struct stat sb;
	if (mkdir(cfg->dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "evidence.dir %s: %s", cfg->dir, strerror(errno));
		return NULL;
	}
	if (stat(cfg->dir, &sb) < 0 || !S_ISDIR(sb.st_mode) || access(cfg->dir, W_OK) < 0) {
		snprintf(err, errlen, "evidence.dir %s: not a writable directory", cfg->dir);
		return NULL;
	}
	struct tw_evidence *ev = calloc(1, sizeof(*ev));
	size_t nb = 1024;
	while (nb < (1u << 20) && nb * 1024 < (size_t)cfg->memory)
		nb <<= 1;
	if (ev)
		ev->b = calloc(nb, sizeof(*ev->b));
	if (ev && ev->b)
		ev->al = calloc(TW_EVIDENCE_MAX_ALERTS, sizeof(*ev->al));
	if (!ev || !ev->b || !ev->al) {
		if (ev)
			free(ev->b);
		free(ev);
		snprintf(err, errlen, "evidence: out of memory");
		return NULL;
	}
	ev->mask = nb - 1;
	ev->c = *cfg;
	ev->pn = *pn;
	ev->clock_offset = clock_offset_ns;
	return ev;
}

void tw_evidence_event(struct tw_evidence *ev, const struct tw_event *e)
{
	struct evf **p = slot(ev, e->flow_id), *f = *p;
	if (e->type == TW_EV_FLOW_END) {
		if (!f)
			return;
		if (!f->tampered) {
			flow_free(ev, f);
			return;
		}
		/* tampered: kept until an alert names it or evidence.retain passes */
		list_del(&ev->live, f);
		f->kept = 1;
		f->ended_wall = (uint64_t)((int64_t)e->ts_ns + ev->clock_offset);
		list_add(&ev->kept, f);
		return;
	}
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			ev->st.oom++;
			return;
		}
		f->id = e->flow_id;
		*p = f;
		list_add(&ev->live, f);
		ev->st.flows++;
		ev->st.memory_bytes += sizeof(*f);
		f->bytes = sizeof(*f);
	}
	/* one packet can make two events (first server payload and data after
	 * an RST): keep it once, under the stricter of the two payload rules */
	if (f->n) {
		struct tw_event *l = f->ev[f->n - 1];
		if (l->ts_ns == e->ts_ns && l->dir == e->dir && l->seq == e->seq && l->ack == e->ack &&
		    l->tcp_flags == e->tcp_flags && l->payload_len == e->payload_len) {
			if (e->type == TW_EV_DATA_AFTER_RST)
				l->type = TW_EV_DATA_AFTER_RST;
			return;
		}
	}
	if (f->n == TW_EVIDENCE_MAX_EVENTS) {
		ev->st.events_dropped++;
		return;
	}
	/* only what a file could ever carry is held: no user payload */
	size_t keep = tw_evpcap_keep(e, 1);
	struct tw_event *c = malloc(sizeof(*c) + keep);
	if (!c) {
		ev->st.oom++;
		return;
	}
	memcpy(c, e, sizeof(*c));
	memcpy(c->snippet, e->snippet, keep);
	c->snippet_len = (uint16_t)keep;
	c->len = (uint16_t)(sizeof(*c) + keep);
	f->ev[f->n++] = c;
	f->bytes += sizeof(*c) + keep;
	ev->st.memory_bytes += sizeof(*c) + keep;
	enforce_budget(ev, f);
}

void tw_evidence_on_event(void *ev, const struct tw_decoded_event *d)
{
	if (d->ev->type == TW_EV_FLOW_RATE) /* a snapshot of the flow, not a packet */
		return;
	tw_evidence_event(ev, d->ev);
}

void tw_evidence_outcome(void *arg, const struct tw_flow_outcome *o)
{
	struct tw_evidence *ev = arg;
	if (!o->tamper)
		return;
	struct evf *f = *slot(ev, o->flow_id);
	if (!f)
		return;
	f->tampered = 1;
	/* the server side's first payload is the censor's */
	if (o->tamper->method &&
	    (!strcmp(o->tamper->method, "http_blockpage") || !strcmp(o->tamper->method, "tls_interference")))
		f->injected = 1;
}

void tw_evidence_tick(void *arg, uint64_t now, int final)
{
	struct tw_evidence *ev = arg;
	(void) final;
	while (ev->kept.head && ev->kept.head->ended_wall + (uint64_t)ev->c.retain * NS <= now) {
		ev->st.expired++;
		flow_free(ev, ev->kept.head);
	}
}

static struct alert_track *track(struct tw_evidence *ev, const char *id)
{
	struct alert_track *lru = NULL;
	ev->use_clock++;
	for (size_t i = 0; i < ev->nal; i++)
		if (!strcmp(ev->al[i].id, id)) {
			ev->al[i].last_use = ev->use_clock;
			return &ev->al[i];
		}
	struct alert_track *t;
	if (ev->nal < TW_EVIDENCE_MAX_ALERTS) {
		t = &ev->al[ev->nal];
		t->tried = calloc((size_t)ev->c.max_flows_per_alert, sizeof(*t->tried));
		if (!t->tried) {
			ev->st.oom++;
			return NULL;
		}
		ev->nal++;
	} else {
		for (size_t i = 0; i < ev->nal; i++)
			if (!lru || ev->al[i].last_use < lru->last_use)
				lru = &ev->al[i];
		t = lru;
		ev->st.alerts_evicted++;
	}
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->ntried = t->over = 0;
	t->last_use = ev->use_clock;
	return t;
}

static void untrack(struct tw_evidence *ev, struct alert_track *t)
{
	free(t->tried);
	*t = ev->al[--ev->nal];
	memset(&ev->al[ev->nal], 0, sizeof(ev->al[0]));
}

struct pkt {
	uint64_t ts;
	unsigned seq;
	const struct tw_event *e;
	const uint8_t *pnym;
	int injected;
};

static int pkt_cmp(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Open path for appending; a new or foreign file starts with our header.
 * Returns the fd and the current size in *size, or -1. */
static int open_file(struct tw_evidence *ev, const char *path, off_t *size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	struct stat sb;
	uint8_t h[TW_EVPCAP_HDR];
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto fail;
	if (sb.st_size > 0) {
		if (pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && tw_evpcap_header_ok(h, sizeof(h))) {
			*size = sb.st_size;
			if (lseek(fd, 0, SEEK_END) < 0)
				goto fail;
			return fd;
		}
		ev->st.files_replaced++;
		if (ftruncate(fd, 0) < 0)
			goto fail;
	}
	tw_evpcap_file_header(h);
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || lseek(fd, 0, SEEK_END) < 0)
		goto fail;
	*size = sizeof(h);
	return fd;
fail:
	fprintf(stderr, "tamperwatchd: evidence %s: %s\n", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Write the packets of flows fl[0..n) to the alert's file, in time order. */
static void write_flows(struct tw_evidence *ev, const char *path, struct evf **fl, int n)
{
	off_t size = 0;
	int fd = open_file(ev, path, &size);
	if (fd < 0) {
		ev->st.write_errors++;
		return;
	}
	struct tw_event(*hs)[2] = calloc((size_t)n ? (size_t)n : 1, sizeof(*hs));
	uint8_t(*pn)[16] = calloc((size_t)n ? (size_t)n : 1, sizeof(*pn));
	struct pkt *pk = calloc((size_t)n * (TW_EVIDENCE_MAX_EVENTS + 2) + 1, sizeof(*pk));
	uint8_t rec[TW_EVPCAP_REC_MAX];
	size_t np = 0;
	if (!hs || !pn || !pk) {
		ev->st.oom++;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct evf *f = fl[i];
		if (!f->n)
			continue;
		tw_pseudonym_addr(&ev->pn, f->ev[0]->family, f->ev[0]->caddr, pn[i]);
		int k = tw_evpcap_handshake(f->ev[0], hs[i]);
		for (int j = 0; j < k + f->n; j++) {
			const struct tw_event *e = j < k ? &hs[i][j] : f->ev[j - k];
			pk[np] = (struct pkt){ e->ts_ns, (unsigned)np, e, pn[i], f->injected };
			np++;
		}
	}
	qsort(pk, np, sizeof(*pk), pkt_cmp);
	for (size_t i = 0; i < np; i++) {
		const struct tw_event *e = pk[i].e;
		unsigned red = 0;
		size_t keep = tw_evpcap_keep(e, pk[i].injected);
		size_t len = tw_evpcap_record(e, pk[i].pnym, keep, (uint64_t)((int64_t)e->ts_ns + ev->clock_offset),
		                              rec, sizeof(rec), &red);
		if (!len)
			continue;
		if ((uint64_t)size + len > (uint64_t)ev->c.max_bytes_per_file) {
			ev->st.packets_over_size++;
			continue;
		}
		if (write(fd, rec, len) != (ssize_t)len) {
			ev->st.write_errors++;
			fprintf(stderr, "tamperwatchd: evidence %s: %s\n", path, strerror(errno));
			break;
		}
		size += (off_t)len;
		ev->st.redacted += red;
		ev->st.packets_written++;
	}
out:
	if (close(fd) < 0)
		ev->st.write_errors++;
	else
		ev->st.files_written++;
	free(hs);
	free(pn);
	free(pk);
}

static const char *get_str(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a, *v;
	if (!json_object_object_get_ex(o, k1, &a) || !json_object_object_get_ex(a, k2, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

void tw_evidence_sink(void *arg, const char *line, size_t len, struct json_object *obj)
{
	struct tw_evidence *ev = arg;
	struct json_object *evd, *ids;
	char path[1024];
	(void)line;
	(void)len;
	const char *id = get_str(obj, "alert", "id"), *state = get_str(obj, "alert", "state");
	if (!id || !state || !json_object_object_get_ex(obj, "evidence", &evd) ||
	    !json_object_object_get_ex(evd, "flow_ids", &ids) || !json_object_is_type(ids, json_type_array))
		return; /* not a blocking alert: shutdown alerts carry no flows */
	if (tw_evidence_path(ev->c.dir, id, path, sizeof(path)) < 0)
		return;
	struct alert_track *t = track(ev, id);
	if (!t)
		return;
	struct evf *fl[1000];
	int nf = 0, over = 0;
	size_t na = json_object_array_length(ids);
	for (size_t i = 0; i < na && i < 1000; i++) {
		struct json_object *x = json_object_array_get_idx(ids, i);
		if (!json_object_is_type(x, json_type_int))
			continue;
		uint64_t fid = (uint64_t)json_object_get_int64(x);
		int seen = 0;
		for (int j = 0; j < t->ntried && !seen; j++)
			seen = t->tried[j] == fid;
		if (seen)
			continue;
		if (t->ntried == ev->c.max_flows_per_alert) {
			over++;
			continue;
		}
		t->tried[t->ntried++] = fid;
		struct evf *f = *slot(ev, fid);
		if (f && nf < 1000)
			fl[nf++] = f;
		else
			ev->st.flows_missing++;
	}
	if (over > t->over) {
		ev->st.flows_over_limit += (uint64_t)(over - t->over);
		t->over = over;
	}
	/* the line names the file: it exists even when no flow could be written */
	write_flows(ev, path, fl, nf);
	for (int i = 0; i < nf; i++) {
		ev->st.flows_written++;
		flow_free(ev, fl[i]);
	}
	if (!strcmp(state, "resolved"))
		untrack(ev, t);
}

const struct tw_evidence_stats *tw_evidence_stats(const struct tw_evidence *ev)
{
	return &ev->st;
}

uint64_t tw_evidence_evictions(const struct tw_evidence *ev)
{
	return ev->st.evicted_live + ev->st.evicted_tampered + ev->st.expired;
}

void tw_evidence_stats_json(void *arg, struct tw_jb *b)
{
	const struct tw_evidence *ev = arg;
	const struct tw_evidence_stats *s = &ev->st;
	tw_jb_obj_open(b, "evidence");
	tw_jb_u64(b, "flows_held", s->flows);
	tw_jb_u64(b, "memory_bytes", s->memory_bytes);
	tw_jb_u64(b, "evicted_live", s->evicted_live);
	tw_jb_u64(b, "evicted_tampered", s->evicted_tampered);
	tw_jb_u64(b, "expired", s->expired);
	tw_jb_u64(b, "events_dropped", s->events_dropped);
	tw_jb_u64(b, "flows_written", s->flows_written);
	tw_jb_u64(b, "flows_missing", s->flows_missing);
	tw_jb_u64(b, "flows_over_limit", s->flows_over_limit);
	tw_jb_u64(b, "packets_written", s->packets_written);
	tw_jb_u64(b, "packets_over_size", s->packets_over_size);
	tw_jb_u64(b, "files_written", s->files_written);
	tw_jb_u64(b, "files_replaced", s->files_replaced);
	tw_jb_u64(b, "write_errors", s->write_errors);
	tw_jb_u64(b, "alerts_evicted", s->alerts_evicted);
	tw_jb_u64(b, "redacted", s->redacted);
	tw_jb_u64(b, "oom", s->oom);
	tw_jb_obj_close(b);
}

void tw_evidence_free(struct tw_evidence *ev)
{
	if (!ev)
		return;
	while (ev->live.head)
		flow_free(ev, ev->live.head);
	while (ev->kept.head)
		flow_free(ev, ev->kept.head);
	for (size_t i = 0; i < ev->nal; i++)
		free(ev->al[i].tried);
	free(ev->al);
	free(ev->b);
	free(ev);
}
