#include "outputs/nats_conn.h"
#include <stdio.h>
#include <string.h>

/* with a callback, a first connect that fails returns at once and goes on in
 * the background (without one, libnats retries inside natsConnection_Connect) */
static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

int tw_nats_connect_opts(const struct tw_nats_cfg *cfg, natsOptions **opts, char *err, size_t errlen)
{
	char list[sizeof(cfg->url)];
	const char *servers[TW_NATS_MAX_SERVERS];
	int n = 0, tls = 0;
	natsStatus s;
	const char *what = "options";

	*opts = NULL;
	snprintf(list, sizeof(list), "%s", cfg->url);
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < TW_NATS_MAX_SERVERS;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		tls |= !strncmp(t, "tls://", 6);
		servers[n++] = t;
	}
	if ((s = natsOptions_Create(opts)) != NATS_OK)
		goto fail;
	what = "servers";
	if ((s = natsOptions_SetServers(*opts, servers, n)) != NATS_OK)
		goto fail;
	what = "reconnect settings";
	if ((s = natsOptions_SetMaxReconnect(*opts, -1)) != NATS_OK ||
	    (s = natsOptions_SetReconnectWait(*opts, 500)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(*opts, 2000)) != NATS_OK ||
	    (s = natsOptions_SetRetryOnFailedConnect(*opts, true, on_connected, NULL)) != NATS_OK)
		goto fail;
	what = "nats.user/password";
	if (cfg->user[0] && (s = natsOptions_SetUserInfo(*opts, cfg->user, cfg->password)) != NATS_OK)
		goto fail;
	what = "nats.nkey/nkey_seed";
	if (cfg->nkey[0] && (s = natsOptions_SetNKeyFromSeed(*opts, cfg->nkey, cfg->nkey_seed)) != NATS_OK)
		goto fail;
	what = "TLS";
	if (tls && (s = natsOptions_SetSecure(*opts, true)) != NATS_OK)
		goto fail;
	what = "nats.ca_file";
	if (cfg->ca_file[0] && (s = natsOptions_LoadCATrustedCertificates(*opts, cfg->ca_file)) != NATS_OK)
		goto fail;
	return 0;
fail:
	/* the status text only: libnats' last-error text may quote a URL */
	snprintf(err, errlen, "nats: %s: %s", what, natsStatus_GetText(s));
	natsOptions_Destroy(*opts);
	*opts = NULL;
	return -1;
}

/* One plain connection attempt, no retry: the reason libnats' background
 * reconnection does not keep (it reports every failure as "no server"). */
static natsStatus probe(const struct tw_nats_cfg *cfg)
{
	natsOptions *o = NULL;
	natsConnection *c = NULL;
	char err[256];
	if (tw_nats_connect_opts(cfg, &o, err, sizeof(err)) < 0)
		return NATS_ERR;
	natsStatus s = natsOptions_SetRetryOnFailedConnect(o, false, NULL, NULL);
	if (s == NATS_OK)
		s = natsOptions_SetAllowReconnect(o, false);
	if (s == NATS_OK)
		s = natsConnection_Connect(&c, o);
	natsConnection_Destroy(c);
	natsOptions_Destroy(o);
	return s;
}

void tw_nats_report_conn(natsConnection *nc, const struct tw_nats_cfg *cfg, natsStatus *last, const char *who)
{
	if (!nc)
		return;
	if (natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED) {
		*last = NATS_OK;
		return;
	}
	if (*last != NATS_OK) /* reported since the last connection */
		return;
	/* a server that refuses our credentials sends its -ERR and closes: the
	 * client may see the close first (an I/O error, not the reason), so an
	 * I/O error is probed again, twice at most */
	natsStatus s = probe(cfg);
	for (int i = 0; i < 2 && s == NATS_IO_ERROR; i++)
		s = probe(cfg);
	*last = s == NATS_OK ? NATS_ILLEGAL_STATE : s;
	if (s == NATS_OK) /* the server takes us: the background connection will too */
		return;
	fprintf(stderr, "tamperwatchd: %s: not connected: %s%s\n", who, natsStatus_GetText(s),
	        s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED
	                ? " (the server refused our credentials: nats.user/password or nats.nkey/nkey_seed)"
	                : "");
}

/* the stream, made when missing: PREFIX.> */
int tw_nats_ensure_stream(jsCtx *js, const struct tw_nats_cfg *cfg)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, js, cfg->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND)
		return -1;
	jsStreamConfig sc;
	char subj[TW_NATS_NAME_MAX + 4];
	const char *subjs[1] = { subj };
	snprintf(subj, sizeof(subj), "%s.>", cfg->subject);
	jsStreamConfig_Init(&sc);
	sc.Name = cfg->stream;
	sc.Subjects = subjs;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = cfg->replicas;
	sc.Duplicates = (int64_t)cfg->duplicates * 1000000000ll;
	s = js_AddStream(&si, js, &sc, NULL, &jerr);
	if (s == NATS_OK)
		jsStreamInfo_Destroy(si);
	else
		fprintf(stderr, "tamperwatchd: nats: cannot create stream %s: %s (JetStream error %d)\n", cfg->stream,
		        natsStatus_GetText(s), (int)jerr);
	return s == NATS_OK ? 0 : -1;
}
