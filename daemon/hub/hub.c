#include "hub/hub.h"
#include "hub/correlate.h"
#include "hub/seen.h"
#include "config.h"
#include "control/ctl.h"
#include "outputs/status.h"
#include "outputs/alertmanager.h"
#include "outputs/bus.h"
#include "outputs/metrics.h"
#include "outputs/nats_conn.h"
#include "outputs/output.h"
#include "outputs/syslog_out.h"
#include "capture/run.h"
#include "util/state.h"
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TW_HUB_STATE_NAME "hub.state"
#define TW_HUB_BATCH 256
#define TW_HUB_MAX_RECORD (256 * 1024)

void tw_hub_cfg_default(struct tw_hub_cfg *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->durable, sizeof(c->durable), "tamperwatch-hub");
	c->min_sites = 1;
	c->national_networks = 3;
	c->shutdown_sites = 2;
	c->site_timeout = 120;
	c->max_seen = 100000; /* the hub state holds them all, saved before each acknowledgement */
	c->collapse_frac = 0.25;
	c->collapse_min_packets = 100;
}

struct hub {
	const struct tw_config *cfg;
	const char *state_dir;
	struct tw_bus *bus;
	struct tw_output *out;
	struct tw_status *status;
	struct tw_xcorr *x;
	struct tw_seen seen;
	uint64_t received, duplicates, malformed, state_saves, state_errors;
	int dirty;
};

static int64_t wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* the state: correlation and the remembered message IDs, saved before the
 * messages that made it are acknowledged (a crash in between redelivers
 * them, and the IDs drop them) */
static int save_state(struct hub *h)
{
	char err[512];
	if (!h->state_dir || !h->dirty)
		return 0;
	struct json_object *o = json_object_new_object(), *ids = json_object_new_array();
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "correlation", json_object_get(tw_xcorr_state(h->x)));
	for (size_t i = 0; i < h->seen.n; i++)
		json_object_array_add(ids, json_object_new_string(tw_seen_at(&h->seen, i)));
	json_object_object_add(o, "seen", ids);
	size_t len;
	const char *txt = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	int rc = tw_state_save(h->state_dir, TW_HUB_STATE_NAME, txt, len, err, sizeof(err));
	json_object_put(o);
	if (rc < 0) {
		if (h->state_errors++ == 0)
			fprintf(stderr, "tamperwatchd: hub: %s\n", err);
		return -1;
	}
	h->state_saves++;
	h->dirty = 0;
	return 0;
}

static int load_state(struct hub *h, char *err, size_t errlen)
{
	void *data = NULL;
	size_t len = 0;
	int rc = tw_state_load(h->state_dir, TW_HUB_STATE_NAME, &data, &len, err, errlen);
	if (rc == TW_STATE_CORRUPT) {
		fprintf(stderr, "tamperwatchd: hub: %s\n", err);
		return 0;
	}
	if (rc != TW_STATE_LOADED)
		return rc == TW_STATE_NONE ? 0 : -1;
	struct json_object *o = json_tokener_parse(data), *corr, *ids;
	free(data);
	if (!o || !json_object_object_get_ex(o, "correlation", &corr) || !json_object_object_get_ex(o, "seen", &ids) ||
	    !json_object_is_type(ids, json_type_array) || tw_xcorr_restore(h->x, corr) < 0) {
		snprintf(err, errlen, "%s/%s: not a hub state (move it away to start empty)", h->state_dir,
		         TW_HUB_STATE_NAME);
		json_object_put(o);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(ids); i++)
		tw_seen_check(&h->seen, json_object_get_string(json_object_array_get_idx(ids, i)));
	fprintf(stderr, "tamperwatchd: hub: state restored: %zu message IDs remembered\n", h->seen.n);
	json_object_put(o);
	return 0;
}

static void record(struct hub *h, natsMsg *m, int64_t now)
{
	const char *id = NULL;
	char seqid[48];
	h->received++;
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK || !id || !*id) {
		jsMsgMetaData *md = NULL;
		if (natsMsg_GetMetaData(&md, m) == NATS_OK) { /* no ID: the stream sequence is one */
			snprintf(seqid, sizeof(seqid), "seq-%llu", (unsigned long long)md->Sequence.Stream);
			jsMsgMetaData_Destroy(md);
			id = seqid;
		} else {
			h->malformed++;
			return;
		}
	}
	if (tw_seen_check(&h->seen, id)) {
		h->duplicates++;
		return;
	}
	h->dirty = 1;
	int len = natsMsg_GetDataLength(m);
	struct json_object *o = NULL;
	if (len > 0 && len <= TW_HUB_MAX_RECORD) {
		struct json_tokener *tok = json_tokener_new();
		if (tok) {
			o = json_tokener_parse_ex(tok, natsMsg_GetData(m), len);
			json_tokener_free(tok);
		}
	}
	if (!o || !json_object_is_type(o, json_type_object) || tw_xcorr_record(h->x, o, now) < 0)
		h->malformed++;
	json_object_put(o);
}

static void publish_status(struct hub *h)
{
	struct tw_xcorr_stats xs;
	tw_xcorr_stats(h->x, &xs);
	pthread_mutex_lock(&h->status->mu);
	h->status->hub.received = h->received;
	h->status->hub.duplicates = h->duplicates;
	h->status->hub.malformed = h->malformed;
	h->status->hub.sites = xs.sites;
	h->status->hub.sites_silent = xs.sites_silent;
	h->status->hub.state_errors = h->state_errors;
	h->status->updated_wall_ns = (uint64_t)wall_ns();
	pthread_mutex_unlock(&h->status->mu);
}

static void emit(void *arg, const char *line, size_t len)
{
	tw_bus_line(arg, line, len);
}

/* the consumer: durable, pulling from every site's subjects */
static int subscribe(const struct tw_config *cfg, jsCtx *js, natsSubscription **sub)
{
	char subj[TW_NATS_NAME_MAX + 4];
	jsSubOptions so;
	jsErrCode jerr = 0;
	snprintf(subj, sizeof(subj), "%s.>", cfg->nats.subject);
	jsSubOptions_Init(&so);
	so.Stream = cfg->nats.stream;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.MaxAckPending = 4 * TW_HUB_BATCH;
	natsStatus s = js_PullSubscribe(sub, js, subj, cfg->hub.durable, NULL, &so, &jerr);
	if (s != NATS_OK) {
		fprintf(stderr, "tamperwatchd: hub: consumer %s on stream %s: %s (JetStream error %d); retrying\n",
		        cfg->hub.durable, cfg->nats.stream, natsStatus_GetText(s), (int)jerr);
		return -1;
	}
	fprintf(stderr, "tamperwatchd: hub: consuming %s from stream %s as %s\n", subj, cfg->nats.stream,
	        cfg->hub.durable);
	return 0;
}

static void loop(struct hub *h, natsConnection *nc, jsCtx *js, struct tw_am *am)
{
	natsSubscription *sub = NULL;
	int64_t next_eval = 0;
	int stream_ok = 0;
	natsStatus conn_err = NATS_OK;
	while (!tw_stop) {
		tw_nats_report_conn(nc, &h->cfg->nats, &conn_err, "hub: nats");
		if (!stream_ok && tw_nats_ensure_stream(js, &h->cfg->nats) == 0)
			stream_ok = 1;
		if (stream_ok && !sub && subscribe(h->cfg, js, &sub) < 0) {
			natsSubscription_Destroy(sub);
			sub = NULL;
		}
		if (!sub) {
			nats_Sleep(500);
			continue;
		}
		natsMsgList list = { 0 };
		jsErrCode jerr = 0;
		natsStatus s = natsSubscription_Fetch(&list, sub, TW_HUB_BATCH, 500, &jerr);
		int64_t now = wall_ns();
		for (int i = 0; i < list.Count; i++)
			record(h, list.Msgs[i], now);
		if (list.Count || now >= next_eval) {
			tw_xcorr_evaluate(h->x, now);
			h->dirty = 1;
			next_eval = now + 1000000000ll;
		}
		/* saved before acknowledged: the IDs drop what a crash here redelivers */
		if (save_state(h) == 0)
			for (int i = 0; i < list.Count; i++)
				natsMsg_Ack(list.Msgs[i], NULL);
		natsMsgList_Destroy(&list);
		if (s != NATS_OK && s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
			if (s == NATS_INVALID_SUBSCRIPTION || s == NATS_CONNECTION_CLOSED) {
				natsSubscription_Destroy(sub);
				sub = NULL;
			}
			nats_Sleep(200);
		}
		publish_status(h);
		if (am)
			tw_am_tick(am, (uint64_t)now, 0);
		if (tw_hup) {
			tw_hup = 0;
			char err[256];
			if (tw_output_reopen(h->out, err, sizeof(err)) < 0)
				fprintf(stderr, "tamperwatchd: %s\n", err);
		}
	}
	natsSubscription_Destroy(sub);
}

int tw_hub_run(const struct tw_config *cfg, const char *alerts, const char *state_dir, const char *version)
{
	char err[1024];
	int rc = 3;
	if (!cfg->nats.url[0]) {
		fprintf(stderr, "tamperwatchd: --hub needs nats.url (docs/hub.md)\n");
		return 2;
	}
	struct hub h = { .cfg = cfg, .state_dir = state_dir };
	struct tw_output out;
	struct tw_bus bus;
	struct tw_status status;
	struct tw_metrics *metrics = NULL;
	struct tw_syslog *syslog_out = NULL;
	struct tw_am *am = NULL;
	struct tw_ctl *ctl = NULL;
	natsOptions *opts = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;

	if (tw_output_open(&out, alerts, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		return 2;
	}
	tw_bus_init(&bus, tw_output_line_now, &out);
	tw_status_init(&status, "hub", version);
	status.hub.enabled = 1;
	h.bus = &bus;
	h.out = &out;
	h.status = &status;
	if (tw_seen_init(&h.seen, (size_t)cfg->hub.max_seen) < 0 || !(h.x = tw_xcorr_new(&cfg->hub, emit, &bus))) {
		fprintf(stderr, "tamperwatchd: hub: out of memory\n");
		goto out;
	}
	if (state_dir) {
		if (mkdir(state_dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "tamperwatchd: --state %s: %s\n", state_dir, strerror(errno));
			goto out;
		}
		if (load_state(&h, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: hub: %s\n", err);
			goto out;
		}
	} else {
		fprintf(stderr,
		        "tamperwatchd: hub: no --state: a restart forgets open cross-site alerts and seen IDs\n");
	}
	/* the same outputs as a gateway: the log (above), syslog, Alertmanager, metrics, control socket */
	if (cfg->syslog.enabled) {
		struct tw_syslog_target st;
		tw_syslog_parse_target(cfg->syslog.target, &st, err, sizeof(err)); /* checked with the config */
		if (!(syslog_out = tw_syslog_new(&st, tw_syslog_facility(cfg->syslog.facility), &status, err,
		                                 sizeof(err))) ||
		    tw_bus_add_sink(&bus, "syslog", tw_syslog_sink, syslog_out) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			goto out;
		}
	}
	if (cfg->am.url[0]) {
		if (!(am = tw_am_new(&cfg->am, state_dir, err, sizeof(err))) ||
		    tw_bus_add_sink(&bus, "alertmanager", tw_am_sink, am) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			goto out;
		}
	}
	if (cfg->metrics_listen[0]) {
		int code = 2;
		if (!(metrics = tw_metrics_open(cfg->metrics_listen, err, sizeof(err), &code)) ||
		    tw_metrics_start(metrics, &status, &bus, err, sizeof(err)) < 0) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			goto out;
		}
	}
	if (cfg->control_socket[0]) {
		struct tw_ctl_opts co = { .path = cfg->control_socket, .version = version };
		if (!(ctl = tw_ctl_start(&co, &status, &bus, err, sizeof(err)))) {
			fprintf(stderr, "tamperwatchd: %s\n", err);
			goto out;
		}
	}
	if (tw_nats_connect_opts(&cfg->nats, &opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		rc = 2;
		goto out;
	}
	natsStatus s = natsConnection_Connect(&nc, opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		fprintf(stderr, "tamperwatchd: hub: nats: connect: %s\n", natsStatus_GetText(s));
		goto out;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = (int64_t)cfg->nats.timeout * 1000;
	if ((s = natsConnection_JetStream(&js, nc, &jo)) != NATS_OK) {
		fprintf(stderr, "tamperwatchd: hub: nats: JetStream context: %s\n", natsStatus_GetText(s));
		goto out;
	}
	tw_run_signals();
	if (tw_sandbox_enter(TW_SANDBOX_HUB, &cfg->sandbox, err, sizeof(err)) < 0) {
		fprintf(stderr, "tamperwatchd: %s\n", err);
		rc = 3;
		goto out;
	}
	loop(&h, nc, js, am);
	h.dirty = 1;
	save_state(&h);
	if (am)
		tw_am_tick(am, (uint64_t)wall_ns(), 1);
	struct tw_xcorr_stats xs;
	tw_xcorr_stats(h.x, &xs);
	fprintf(stderr,
	        "tamperwatchd: hub: stopped: %llu records received, %llu duplicates dropped, %llu malformed, "
	        "%llu state saves, %llu state errors, %llu prefix summaries, %llu records ignored\n",
	        (unsigned long long)h.received, (unsigned long long)h.duplicates, (unsigned long long)h.malformed,
	        (unsigned long long)h.state_saves, (unsigned long long)h.state_errors, (unsigned long long)xs.summaries,
	        (unsigned long long)xs.ignored);
	rc = 0;
out:
	tw_ctl_stop(ctl);
	tw_metrics_stop(metrics);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(opts);
	tw_am_free(am);
	tw_syslog_free(syslog_out);
	tw_xcorr_free(h.x);
	tw_seen_free(&h.seen);
	tw_bus_free(&bus);
	tw_status_free(&status);
	tw_output_close(&out);
	return rc;
}
