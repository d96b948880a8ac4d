#include "util/svg.h"
#include "util/textbuf.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* length of the well-formed UTF-8 sequence at s (n bytes left), 0 if not one */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (n < len)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

void tw_svg_escape(struct tw_tb *b, const char *s, size_t max)
{
	if (!s)
		return;
	if (max > TW_SVG_MAX_TEXT)
		max = TW_SVG_MAX_TEXT;
	size_t n = strnlen(s, max);
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		const char *ent = c == '&'    ? "&amp;"
		                  : c == '<'  ? "&lt;"
		                  : c == '>'  ? "&gt;"
		                  : c == '"'  ? "&quot;"
		                  : c == '\'' ? "&#39;"
		                              : NULL;
		if (ent) {
			tw_tb_str(b, ent);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			tw_tb_add(b, "?", 1);
			i++;
			continue;
		}
		size_t l = utf8_len(u + i, n - i);
		if (!l) {
			tw_tb_add(b, "?", 1);
			i++;
			continue;
		}
		tw_tb_add(b, u + i, l);
		i += l;
	}
}

static int color_ok(const char *c)
{
	if (!c || strlen(c) != 7 || c[0] != '#')
		return 0;
	for (int i = 1; i < 7; i++)
		if (!strchr("0123456789abcdefABCDEF", c[i]))
			return 0;
	return 1;
}

static const char *const palette[TW_SVG_MAX_SERIES] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
	                                                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f" };

void tw_svg_axis_time(double t, int secs, char *out, size_t cap)
{
	time_t s = (time_t)t;
	struct tm tm;
	if (!isfinite(t) || !gmtime_r(&s, &tm)) {
		snprintf(out, cap, "?");
		return;
	}
	strftime(out, cap, secs ? "%H:%M:%S" : "%m-%d %H:%M", &tm);
}

void tw_svg_human(double v, char *out, size_t cap)
{
	double a = fabs(v);
	if (a >= 1e9)
		snprintf(out, cap, "%.3gG", v / 1e9);
	else if (a >= 1e6)
		snprintf(out, cap, "%.3gM", v / 1e6);
	else if (a >= 1e4)
		snprintf(out, cap, "%.3gk", v / 1e3);
	else
		snprintf(out, cap, "%.3g", v);
}

const char *tw_svg_color(const struct tw_svg_plot *p, int i)
{
	const char *c = p->series[i].color;
	return color_ok(c) ? c : palette[i % TW_SVG_MAX_SERIES];
}

int tw_svg_layout(const struct tw_svg_plot *p, struct tw_svg_layout *l)
{
	if (!p || p->nseries < 1 || p->nseries > TW_SVG_MAX_SERIES || p->nbands < 0 || p->nbands > TW_SVG_MAX_BANDS ||
	    p->nmarks < 0 || p->nmarks > TW_SVG_MAX_MARKS || (p->nbands && !p->bands) || (p->nmarks && !p->marks) ||
	    !p->series)
		return -1;
	l->W = p->width < 200 ? 200 : p->width > 2000 ? 2000 : p->width;
	l->H = p->height < 120 ? 120 : p->height > 1200 ? 1200 : p->height;
	l->L = 60;
	l->T = 28;
	l->pw = l->W - l->L - 12;
	l->ph = l->H - l->T - 34;
	/* the axes' ranges, from the finite points when not given */
	double tmin = p->tmin, tmax = p->tmax, ymax = p->ymax;
	int from_data = !(tmax > tmin) || !isfinite(tmin) || !isfinite(tmax);
	double dmin = INFINITY, dmax = -INFINITY, vmax = 0;
	for (int s = 0; s < p->nseries; s++) {
		const struct tw_svg_series *x = &p->series[s];
		if (x->n && (!x->t || !x->v))
			return -1;
		for (size_t i = 0; i < x->n; i++) {
			if (!isfinite(x->t[i]) || !isfinite(x->v[i]))
				continue;
			dmin = x->t[i] < dmin ? x->t[i] : dmin;
			dmax = x->t[i] > dmax ? x->t[i] : dmax;
			vmax = x->v[i] > vmax ? x->v[i] : vmax;
		}
	}
	if (from_data) {
		tmin = isfinite(dmin) ? dmin : 0;
		tmax = isfinite(dmax) ? dmax : 1;
		if (tmax <= tmin)
			tmax = tmin + 1;
	}
	if (!(ymax > 0) || !isfinite(ymax))
		ymax = vmax > 0 ? vmax * 1.1 : 1;
	l->tmin = tmin;
	l->tmax = tmax;
	l->ymax = ymax;
	return 0;
}

double tw_svg_x(const struct tw_svg_layout *l, double t)
{
	double f = t < l->tmin ? 0 : t > l->tmax ? 1 : (t - l->tmin) / (l->tmax - l->tmin);
	return l->L + f * l->pw;
}

double tw_svg_y(const struct tw_svg_layout *l, double v)
{
	double f = v < 0 ? 0 : v > l->ymax ? 1 : v / l->ymax;
	return l->T + l->ph - f * l->ph;
}

int tw_svg_plot(struct tw_tb *b, const struct tw_svg_plot *p, uint64_t *thinned)
{
	struct tw_svg_layout lay;
	if (thinned)
		*thinned = 0;
	if (tw_svg_layout(p, &lay) < 0)
		return -1;
	const int W = lay.W, H = lay.H;
	const double L = lay.L, T = lay.T, pw = lay.pw, ph = lay.ph, tmin = lay.tmin, tmax = lay.tmax, ymax = lay.ymax;
#define X(t) tw_svg_x(&lay, (t))
#define Y(v) tw_svg_y(&lay, (v))

	tw_tb_printf(b,
	             "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	             "class=\"tw-plot\" role=\"img\" data-plot=\"",
	             W, H, W, H);
	tw_svg_escape(b, p->id ? p->id : "", TW_SVG_MAX_TEXT);
	tw_tb_printf(b, "\" data-tmin=\"%.3f\" data-tmax=\"%.3f\" data-ymax=\"%.15g\">\n<title>", tmin, tmax, ymax);
	tw_svg_escape(b, p->title ? p->title : "", TW_SVG_MAX_TEXT);
	tw_tb_printf(b, "</title>\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H);
	/* shaded periods, under everything */
	for (int i = 0; i < p->nbands; i++) {
		double t0 = p->bands[i].t0, t1 = p->bands[i].t1;
		if (!isfinite(t0) || !isfinite(t1) || t1 < t0 || t1 < tmin || t0 > tmax)
			continue;
		double x0 = X(t0), x1 = X(t1);
		tw_tb_printf(b,
		             "<rect class=\"band\" data-t0=\"%.3f\" data-t1=\"%.3f\" x=\"%.1f\" y=\"%.1f\" "
		             "width=\"%.1f\" height=\"%.1f\" fill=\"#f4c7c3\" fill-opacity=\"0.7\"/>\n",
		             t0, t1, x0, T, x1 - x0 < 1 ? 1 : x1 - x0, ph);
	}
	/* axes, grid and their labels */
	char lab[64];
	tw_tb_printf(b, "<g font-family=\"sans-serif\" font-size=\"11\" fill=\"#333333\">\n");
	for (int k = 0; k <= 4; k++) {
		double v = ymax * k / 4, y = Y(v);
		tw_svg_human(v, lab, sizeof lab);
		tw_tb_printf(b,
		             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\"/>"
		             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
		             L, y, L + pw, y, L - 4, y + 4, lab);
	}
	int secs = tmax - tmin < 3 * 3600;
	for (int k = 0; k <= 4; k++) {
		double t = tmin + (tmax - tmin) * k / 4;
		tw_svg_axis_time(t, secs, lab, sizeof lab);
		tw_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>\n", X(t), T + ph + 14,
		             k == 0   ? "start"
		             : k == 4 ? "end"
		                      : "middle",
		             lab);
	}
	tw_tb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">time (UTC)</text>\n", L + pw / 2,
	             T + ph + 28);
	tw_tb_printf(b,
	             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>"
	             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\"/>\n",
	             L, T, L, T + ph, L, T + ph, L + pw, T + ph);
	tw_tb_printf(b, "<text x=\"%.1f\" y=\"16\" font-size=\"13\" font-weight=\"bold\">", L);
	tw_svg_escape(b, p->title ? p->title : "", TW_SVG_MAX_TEXT);
	tw_tb_str(b, "</text>\n");
	if (p->ylabel) {
		tw_tb_printf(b, "<text x=\"12\" y=\"%.1f\" transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">",
		             T + ph / 2, T + ph / 2);
		tw_svg_escape(b, p->ylabel, TW_SVG_MAX_TEXT);
		tw_tb_str(b, "</text>\n");
	}
	tw_tb_str(b, "</g>\n");

	/* the series: a polyline each, points thinned evenly beyond the bound */
	for (int s = 0; s < p->nseries; s++) {
		const struct tw_svg_series *x = &p->series[s];
		const char *col = tw_svg_color(p, s);
		size_t step = x->n > TW_SVG_MAX_POINTS ? (x->n + TW_SVG_MAX_POINTS - 1) / TW_SVG_MAX_POINTS : 1;
		if (thinned && step > 1)
			*thinned += x->n - (x->n + step - 1) / step;
		tw_tb_str(b, "<polyline class=\"series\" data-series=\"");
		tw_svg_escape(b, x->name ? x->name : "", TW_SVG_MAX_TEXT);
		tw_tb_printf(b, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
		             x->dashed ? " stroke-dasharray=\"6 4\"" : "");
		size_t drawn = 0, last = 0;
		for (size_t i = 0; i < x->n; i += step)
			if (isfinite(x->t[i]) && isfinite(x->v[i])) {
				tw_tb_printf(b, "%.1f,%.1f ", X(x->t[i]), Y(x->v[i]));
				drawn++;
				last = i;
			}
		tw_tb_str(b, "\"/>\n");
		if (drawn == 1 && !p->points) /* a line of one point shows nothing: a dot */
			tw_tb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", X(x->t[last]),
			             Y(x->v[last]), col);
		if (p->points)
			for (size_t i = 0; i < x->n; i += step) {
				if (!isfinite(x->t[i]) || !isfinite(x->v[i]))
					continue;
				tw_tb_str(b, "<circle class=\"point\" data-series=\"");
				tw_svg_escape(b, x->name ? x->name : "", TW_SVG_MAX_TEXT);
				tw_tb_printf(b,
				             "\" data-t=\"%.3f\" data-v=\"%.15g\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
				             "fill=\"%s\"/>\n",
				             x->t[i], x->v[i], X(x->t[i]), Y(x->v[i]), col);
			}
		/* legend */
		tw_tb_printf(
		        b,
		        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>"
		        "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\">",
		        L + pw - 150, T + 10 + 14.0 * s, L + pw - 130, T + 10 + 14.0 * s, col,
		        x->dashed ? " stroke-dasharray=\"6 4\"" : "", L + pw - 126, T + 14 + 14.0 * s);
		tw_svg_escape(b, x->name ? x->name : "", 40);
		tw_tb_str(b, "</text>\n");
	}
	for (int i = 0; i < p->nmarks; i++) {
		double t = p->marks[i].t;
		if (!isfinite(t) || t < tmin || t > tmax)
			continue;
		tw_tb_printf(b,
		             "<line class=\"mark\" data-t=\"%.3f\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
		             "stroke=\"#000000\" stroke-dasharray=\"3 3\"/>"
		             "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\">",
		             t, X(t), T, X(t), T + ph, X(t) + 3, T + 10);
		tw_svg_escape(b, p->marks[i].label ? p->marks[i].label : "", 40);
		tw_tb_str(b, "</text>\n");
	}
	tw_tb_str(b, "</svg>\n");
#undef X
#undef Y
	return b->fail ? -1 : 0;
}

int tw_svg_parse_time(const char *s, double *t)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!s)
		return -1;
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e)
		return -1;
	double frac = 0;
	if (*e == '.') {
		double scale = 0.1;
		for (e++; *e >= '0' && *e <= '9'; e++, scale /= 10)
			frac += (*e - '0') * scale;
	}
	if (*e && strcmp(e, "Z") && strcmp(e, "+00:00") && strcmp(e, "+0000"))
		return -1;
	time_t secs = timegm(&tm);
	if (secs == (time_t)-1)
		return -1;
	*t = (double)secs + frac;
	return 0;
}
