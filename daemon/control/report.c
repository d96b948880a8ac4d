#include "control/report.h"
#include "util/png.h"
#include "util/svg.h"
#include "util/textbuf.h"
#include <math.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tw_report_evidence_open(const char *path, const char *evidence_dir, uint64_t max, uint64_t *size, char *err,
                            size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX], tmp[PATH_MAX];
	struct stat st, rst;

	if (!*path || strlen(path) >= sizeof(tmp)) {
		snprintf(err, errlen, "evidence path empty or too long");
		return -1;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: %lld bytes, more than the %llu a report takes", path, (long long)st.st_size,
		         (unsigned long long)max);
		goto fail;
	}
	/* confinement: where the path really leads must be inside the evidence directory */
	if (evidence_dir) {
		if (!realpath(evidence_dir, dir)) {
			snprintf(err, errlen, "evidence directory %s: %s", evidence_dir, strerror(errno));
			goto fail;
		}
	} else {
		snprintf(tmp, sizeof(tmp), "%s", path);
		char *slash = strrchr(tmp, '/');
		const char *d = slash ? (slash == tmp ? "/" : (*slash = 0, tmp)) : ".";
		if (!realpath(d, dir)) {
			snprintf(err, errlen, "%s: %s", d, strerror(errno));
			goto fail;
		}
	}
	if (!realpath(path, real) || stat(real, &rst) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	size_t dl = strlen(dir);
	int inside = !strncmp(real, dir, dl) && (real[dl] == '/' || (dl == 1 && dir[0] == '/'));
	if (inside && !evidence_dir)
		inside = strchr(real + dl + (dl > 1), '/') == NULL; /* directly in it */
	if (!inside || rst.st_dev != st.st_dev || rst.st_ino != st.st_ino) {
		snprintf(err, errlen, "%s: resolves outside the evidence directory %s", path, dir);
		goto fail;
	}
	*size = (uint64_t)st.st_size;
	return fd;
fail:
	close(fd);
	return -1;
}

static la_ssize_t out_write(struct archive *a, void *arg, const void *p, size_t n)
{
	struct tw_tb *b = arg;
	if (tw_tb_add(b, p, n) < 0) {
		archive_set_error(a, ENOMEM, "report larger than its bound or out of memory");
		return -1;
	}
	return (la_ssize_t)n;
}

/* a regular file's header: len bytes of data must follow */
static int add_header(struct archive *a, const char *name, uint64_t len, int64_t mtime)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -1;
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)len);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, mtime, 0);
	int rc = archive_write_header(a, e);
	archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : -1;
}

static int add_member(struct archive *a, const char *name, const void *data, size_t len, int64_t mtime)
{
	if (add_header(a, name, len, mtime) < 0)
		return -1;
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		return -1;
	return 0;
}

static const char *jstr(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v;
	if (k1 && !json_object_object_get_ex(o, k1, &a))
		return NULL;
	if (!json_object_object_get_ex(a, k2, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static void timeline_text(const struct tw_report_in *in, struct tw_tb *t)
{
	for (long i = 0; i < in->nlines; i++) {
		struct json_object *o = json_tokener_parse(in->lines[i]);
		if (!o)
			continue; /* the bus only keeps lines that parsed */
		if (i == 0) {
			const char *dom = jstr(o, "target", "domain"), *ip = jstr(o, "target", "ip");
			tw_tb_printf(t, "Alert %s: %s\n", in->id, jstr(o, "alert", "signature") ?: "");
			tw_tb_printf(t, "Target:     %s%s%s%s port %s/%s\n",
			             dom  ? dom
			             : ip ? ip
			                  : "-",
			             dom && ip ? " (" : "", dom && ip ? ip : "", dom && ip ? ")" : "",
			             jstr(o, "target", "port") ?: "-", jstr(o, "target", "proto") ?: "-");
			tw_tb_printf(t, "Category:   %s, method %s, legitimacy %s\n",
			             jstr(o, "alert", "category") ?: "-", jstr(o, "censorship", "method") ?: "-",
			             jstr(o, "censorship", "legitimacy") ?: "-");
			if (jstr(o, "censorship", "legal_reference"))
				tw_tb_printf(t, "Declared:   %s (%s)\n", jstr(o, "censorship", "legal_reference"),
				             jstr(o, "censorship", "declared_pattern") ?: "");
			tw_tb_printf(t, "\n%-32s %-9s %s\n", "time (UTC)", "state", "what the detector saw");
		}
		if (i == 1 && in->omitted)
			tw_tb_printf(t,
			             "%-32s %-9s (%llu lines not kept: the bundle keeps the first and the last %d)\n",
			             "...", "", (unsigned long long)in->omitted, (int)(in->nlines - 1));
		struct json_object *ms = NULL, *pf = NULL;
		char methods[256] = "", prefixes[512] = "";
		struct json_object *c, *sc;
		if (json_object_object_get_ex(o, "censorship", &c) && json_object_object_get_ex(c, "methods_seen", &ms))
			for (size_t k = 0; k < json_object_array_length(ms) && strlen(methods) < 200; k++)
				snprintf(methods + strlen(methods), sizeof(methods) - strlen(methods), "%s%s",
				         k ? "," : "", json_object_get_string(json_object_array_get_idx(ms, k)));
		if (json_object_object_get_ex(o, "scope", &sc) && json_object_object_get_ex(sc, "prefixes", &pf))
			for (size_t k = 0; k < json_object_array_length(pf) && strlen(prefixes) < 440; k++)
				snprintf(prefixes + strlen(prefixes), sizeof(prefixes) - strlen(prefixes), "%s%s",
				         k ? "," : "", json_object_get_string(json_object_array_get_idx(pf, k)));
		tw_tb_printf(t,
		             "%-32s %-9s flows %s, tampered %s (ratio %s), client prefixes %s [%s], confidence %s, "
		             "methods %s%s%s\n",
		             jstr(o, NULL, "timestamp") ?: "-", jstr(o, "alert", "state") ?: "-",
		             jstr(o, "stats", "flows") ?: "-", jstr(o, "stats", "affected_flows") ?: "-",
		             jstr(o, "stats", "ratio") ?: "-", jstr(o, "stats", "clients") ?: "-", prefixes,
		             jstr(o, "censorship", "confidence") ?: "-", methods[0] ? methods : "-",
		             jstr(o, "alert", "resolution") ? ", resolution " : "",
		             jstr(o, "alert", "resolution") ?: "");
		json_object_put(o);
	}
}

static double jnum(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *a = o, *v;
	if ((k1 && !json_object_object_get_ex(o, k1, &a)) || !json_object_object_get_ex(a, k2, &v) ||
	    !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return NAN;
	return json_object_get_double(v);
}

/* The alert's picture from its kept lines: plot.svg into svg, plot.png into
 * png; 0, or -1 with the reason in note. */
static int report_plot(const struct tw_report_in *in, struct tw_tb *svg, struct tw_tb *png, char *note, size_t cap)
{
	long n = in->nlines;
	double *t = calloc((size_t)n + 1, sizeof(double)), *v = calloc((size_t)n + 1, sizeof(double)),
	       *bv = calloc((size_t)n + 1, sizeof(double));
	char title[240] = "", cat[16] = "";
	double raised = NAN, start = NAN, end = NAN, last = NAN;
	int region = 0, rc = -1;
	long k = 0;
	if (!t || !v || !bv) {
		snprintf(note, cap, "out of memory");
		goto done;
	}
	for (long i = 0; i < n; i++) {
		struct json_object *o = json_tokener_parse(in->lines[i]);
		double ts;
		if (!o)
			continue;
		if (tw_svg_parse_time(jstr(o, NULL, "timestamp"), &ts) < 0) {
			json_object_put(o);
			continue;
		}
		const char *state = jstr(o, "alert", "state") ?: "";
		if (!cat[0]) {
			snprintf(cat, sizeof cat, "%s", jstr(o, "alert", "category") ?: "");
			snprintf(title, sizeof title, "%s", jstr(o, "alert", "signature") ?: in->id);
			double s0;
			if (tw_svg_parse_time(jstr(o, "shutdown", "start") ?: jstr(o, NULL, "first_seen"), &s0) == 0)
				start = s0;
		}
		if (!strcmp(state, "raised") && !isfinite(raised))
			raised = ts;
		if (!strcmp(state, "resolved"))
			end = ts;
		last = ts;
		double x, b = NAN;
		if (!strcmp(cat, "throttling"))
			x = jnum(o, "stats", "rate_bps");
		else if (!strcmp(cat, "shutdown")) {
			x = jnum(o, "stats", "current");
			b = jnum(o, "stats", "baseline");
			if (!isfinite(x) && isfinite(jnum(o, "stats", "prefixes_down"))) {
				region = 1;
				x = jnum(o, "stats", "prefixes_down");
			}
		} else
			x = jnum(o, "stats", "ratio");
		json_object_put(o);
		if (!isfinite(x))
			continue;
		t[k] = ts;
		v[k] = x;
		bv[k++] = b;
	}
	if (!k) {
		snprintf(note, cap, "no line of the alert carries a figure to plot");
		goto done;
	}
	double t0 = isfinite(start) && start < t[0] ? start : t[0];
	double t1 = t[k - 1] > t0 ? t[k - 1] : t0 + 60;
	double pad = (t1 - t0) * 0.08 + 1;
	struct tw_svg_band band = { isfinite(start) ? start : t[0], isfinite(end) ? end : last };
	struct tw_svg_mark mark = { isfinite(raised) ? raised : t[0], "raised" };
	int shut = !strcmp(cat, "shutdown");
	int thr = !strcmp(cat, "throttling");
	struct tw_svg_series ser[2] = {
		{ shut  ? (region ? "prefixes down" : "traffic (stats.current)")
		  : thr ? "measured rate (stats.rate_bps)"
		        : "tampered share (stats.ratio)",
		  "#d62728", t, v, (size_t)k, 0 },
		{ "baseline (stats.baseline)", "#7f7f7f", t, bv, (size_t)k, 1 },
	};
	struct tw_svg_plot pl = {
		.id = in->id,
		.title = title,
		.ylabel = shut  ? (region ? "prefixes" : "per interval")
		          : thr ? "bit/s"
		                : "share of flows",
		.width = 900,
		.height = 320,
		.tmin = t0 - pad,
		.tmax = t1 + pad,
		.ymax = !shut && !thr ? 1 : 0,
		.points = 1,
		.series = ser,
		.nseries = shut && !region ? 2 : 1,
		.bands = &band,
		.nbands = 1,
		.marks = &mark,
		.nmarks = 1,
	};
	if (tw_svg_plot(svg, &pl, NULL) < 0 || tw_png_plot(png, &pl) < 0) {
		snprintf(note, cap, "drawing failed: out of memory or over the size bound");
		goto done;
	}
	rc = 0;
done:
	free(t);
	free(v);
	free(bv);
	return rc;
}

static void readme_text(const struct tw_report_in *in, const struct tw_report *r, struct tw_tb *t)
{
	char when[64];
	time_t s = (time_t)(in->now_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	tw_tb_printf(t,
	             "tamperwatch report for alert %s\n"
	             "Generated %s by tamperwatchd %s.\n"
	             "\n"
	             "What this is\n"
	             "  tamperwatch is a passive detector of Internet censorship.  This bundle holds\n"
	             "  what it recorded about one alert: one target (domain or server address, port,\n"
	             "  protocol) whose connections were interfered with, from the moment the alert\n"
	             "  was raised through its updates to its resolution, if it has one.\n"
	             "\n"
	             "Files\n"
	             "  alert.json    the alert's records exactly as the detector wrote them, one JSON\n"
	             "                object per line, oldest first.  Schema: docs/schema.md of\n"
	             "                tamperwatch (installed under share/doc/tamperwatch/).\n"
	             "                %s\n"
	             "  timeline.txt  the same records as a readable timeline.\n"
	             "  plot.svg      %s\n"
	             "  plot.png      the same picture as a PNG image (numbers and times only: the\n"
	             "                words are in the SVG).\n"
	             "  README.txt    this file.\n"
	             "  evidence.pcap %s\n"
	             "\n"
	             "How to read it\n"
	             "  alert.state: raised, updated, resolved; one alert.id from start to end.\n"
	             "  censorship.method: how the block was done (rst_injection: forged TCP resets;\n"
	             "  http_blockpage: an injected HTTP response; dns_injection: forged DNS answers;\n"
	             "  tls_interference: a TLS handshake cut off; blackhole: packets silently dropped).\n"
	             "  censorship.confidence: mean confidence of the per-flow verdicts (0 to 1).\n"
	             "  censorship.legitimacy: declared when the block matches a restriction the\n"
	             "  operator declared (with its legal reference), undeclared otherwise.\n"
	             "  stats: flows to the target since the alert began, how many were tampered\n"
	             "  with, the share, and how many client prefixes were affected.\n"
	             "  evidence.flow_ids: the flows behind the alert, as numbered in the detector's log.\n"
	             "\n"
	             "Privacy\n"
	             "  Client addresses never leave the detector in clear: the records name clients\n"
	             "  only by network prefix (by default /24 for IPv4, /48 for IPv6) and count them;\n"
	             "  no client address, user payload or browsing history is in this bundle beyond\n"
	             "  the target that was blocked.  The evidence capture, when included, is the one\n"
	             "  the detector's evidence writer made for this alert: headers and the injected\n"
	             "  packets, not user payloads.  In it each client address is a keyed pseudonym:\n"
	             "  the client's prefix is kept and the host part is replaced (the same client,\n"
	             "  the same pseudonym).  A pseudonym is another address of that prefix and may\n"
	             "  be the real address of some other client there: it tells flows of one client\n"
	             "  apart, it never names who holds that address.\n",
	             in->id, when, in->version ? in->version : "?",
	             in->omitted ? "Long-lived alert: the first record and the latest ones are kept; the\n"
	                           "                count of records left out is in timeline.txt."
	                         : "Every record of the alert is here.",
	             r->plot ? "the alert's picture, drawn from the records above: for blocking the\n"
	                       "                share of the target's flows tampered with (stats.ratio), for\n"
	                       "                throttling the measured rate (stats.rate_bps), for a shutdown\n"
	                       "                the traffic against its baseline; the alert's period shaded,\n"
	                       "                the moment it was raised marked (dashed line)."
	                     : "not included: see below.",
	             r->evidence  ? "the packet capture the detector kept as evidence for this alert."
	             : r->note[0] ? "not included: see below."
	                          : "not included: the alert names no capture.");
	if (!r->evidence && r->note[0])
		tw_tb_printf(t, "\nEvidence capture not included: %s\n", r->note);
	if (!r->plot)
		tw_tb_printf(t, "\nPlot not included: %s\n", r->plot_note);
}

/* the evidence pcap the newest line names ("" if none) */
static void evidence_path(const struct tw_report_in *in, char *out, size_t cap)
{
	out[0] = 0;
	for (long i = in->nlines - 1; i >= 0 && !out[0]; i--) {
		struct json_object *o = json_tokener_parse(in->lines[i]);
		const char *p = o ? jstr(o, "evidence", "pcap") : NULL;
		if (p)
			snprintf(out, cap, "%s", p);
		json_object_put(o);
	}
}

int tw_report_build(const struct tw_report_in *in, struct tw_report *r, char *err, size_t errlen)
{
	uint64_t max = in->max_evidence ? in->max_evidence : TW_REPORT_MAX_EVIDENCE;
	struct tw_tb out = { .max = (size_t)max + (8u << 20) };
	struct tw_tb js = { .max = 8u << 20 }, tl = { .max = 8u << 20 }, rd = { .max = 1u << 20 };
	struct tw_tb svg = { .max = 4u << 20 }, png = { .max = 8u << 20 };
	char path[PATH_MAX];
	int64_t mtime = (int64_t)(in->now_ns / 1000000000ull);
	int fd = -1, rc = -1;
	uint64_t esize = 0;

	memset(r, 0, sizeof(*r));
	evidence_path(in, path, sizeof(path));
	if (path[0]) {
		fd = tw_report_evidence_open(path, in->evidence_dir, max, &esize, r->note, sizeof(r->note));
		r->evidence = fd >= 0;
	}
	for (long i = 0; i < in->nlines; i++)
		tw_tb_add(&js, in->lines[i], strlen(in->lines[i]));
	timeline_text(in, &tl);
	r->plot = report_plot(in, &svg, &png, r->plot_note, sizeof(r->plot_note)) == 0;
	readme_text(in, r, &rd);
	if (js.fail || tl.fail || rd.fail) {
		snprintf(err, errlen, "out of memory building the report");
		goto done;
	}

	struct archive *a = archive_write_new();
	if (!a) {
		snprintf(err, errlen, "out of memory building the report");
		goto done;
	}
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open2(a, &out, NULL, out_write, NULL, NULL) != ARCHIVE_OK ||
	    add_member(a, "README.txt", rd.p, rd.n, mtime) < 0 || add_member(a, "alert.json", js.p, js.n, mtime) < 0 ||
	    add_member(a, "timeline.txt", tl.p, tl.n, mtime) < 0)
		goto archive_fail;
	if (r->plot &&
	    (add_member(a, "plot.svg", svg.p, svg.n, mtime) < 0 || add_member(a, "plot.png", png.p, png.n, mtime) < 0))
		goto archive_fail;
	if (fd >= 0) {
		if (add_header(a, "evidence.pcap", esize, mtime) < 0)
			goto archive_fail;
		char chunk[65536];
		uint64_t left = esize;
		while (left) {
			ssize_t n = read(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));
			if (n <= 0) { /* the file shrank under us: the header's size would lie */
				snprintf(err, errlen, "%s: %s while reading", path, n < 0 ? strerror(errno) : "shrank");
				archive_write_free(a);
				goto done;
			}
			if (archive_write_data(a, chunk, (size_t)n) != n)
				goto archive_fail;
			left -= (uint64_t)n;
		}
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto archive_fail;
	archive_write_free(a);
	r->data = out.p;
	r->len = out.n;
	out.p = NULL;
	rc = 0;
	goto done;
archive_fail:
	snprintf(err, errlen, "building the report: %s", archive_error_string(a) ?: "archive error");
	archive_write_free(a);
done:
	if (fd >= 0)
		close(fd);
	free(out.p);
	free(js.p);
	free(tl.p);
	free(rd.p);
	free(svg.p);
	free(png.p);
	return rc;
}
