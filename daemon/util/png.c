#include "util/png.h"
#include "util/svg.h"
#include "util/textbuf.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct canvas {
	int w, h;
	uint8_t *px; /* RGB rows */
};

static void rgb(const char *hex, uint8_t c[3])
{
	for (int i = 0; i < 3; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = hex[1 + 2 * i + k];
			v = v * 16 + (unsigned)(ch >= 'a' ? ch - 'a' + 10 : ch >= 'A' ? ch - 'A' + 10 : ch - '0');
		}
		c[i] = (uint8_t)v;
	}
}

static void dot(struct canvas *cv, int x, int y, const uint8_t c[3])
{
	if (x < 0 || y < 0 || x >= cv->w || y >= cv->h)
		return;
	memcpy(cv->px + ((size_t)y * (size_t)cv->w + (size_t)x) * 3, c, 3);
}

static void rect(struct canvas *cv, double x0, double y0, double x1, double y1, const uint8_t c[3])
{
	for (int y = (int)floor(y0); y < (int)ceil(y1); y++)
		for (int x = (int)floor(x0); x < (int)ceil(x1); x++)
			dot(cv, x, y, c);
}

/* a line 2 px wide; dashed: 6 on, 4 off along its length */
static void line(struct canvas *cv, double fx0, double fy0, double fx1, double fy1, const uint8_t c[3], int dashed,
                 int wide)
{
	int x0 = (int)lround(fx0), y0 = (int)lround(fy0), x1 = (int)lround(fx1), y1 = (int)lround(fy1);
	int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
	for (int step = 0; step < 8192; step++) {
		if (!dashed || step % 10 < 6) {
			dot(cv, x0, y0, c);
			if (wide) {
				dot(cv, x0 + 1, y0, c);
				dot(cv, x0, y0 + 1, c);
			}
		}
		if (x0 == x1 && y0 == y1)
			break;
		int e2 = 2 * err;
		if (e2 >= dy) {
			err += dy;
			x0 += sx;
		}
		if (e2 <= dx) {
			err += dx;
			y0 += sy;
		}
	}
}

static void disc(struct canvas *cv, double cx, double cy, int r, const uint8_t c[3])
{
	for (int y = -r; y <= r; y++)
		for (int x = -r; x <= r; x++)
			if (x * x + y * y <= r * r)
				dot(cv, (int)lround(cx) + x, (int)lround(cy) + y, c);
}

/* 3x5 glyphs, a row a value (bit 2 the left column) */
static const struct {
	char ch;
	uint8_t rows[5];
} font[] = {
	{ '0', { 7, 5, 5, 5, 7 } }, { '1', { 2, 6, 2, 2, 7 } }, { '2', { 7, 1, 7, 4, 7 } }, { '3', { 7, 1, 7, 1, 7 } },
	{ '4', { 5, 5, 7, 1, 1 } }, { '5', { 7, 4, 7, 1, 7 } }, { '6', { 7, 4, 7, 5, 7 } }, { '7', { 7, 1, 1, 1, 1 } },
	{ '8', { 7, 5, 7, 5, 7 } }, { '9', { 7, 5, 7, 1, 7 } }, { '.', { 0, 0, 0, 0, 2 } }, { ':', { 0, 2, 0, 2, 0 } },
	{ '-', { 0, 0, 7, 0, 0 } }, { '+', { 0, 2, 7, 2, 0 } }, { 'e', { 0, 7, 7, 4, 7 } }, { 'k', { 4, 5, 6, 5, 5 } },
	{ 'M', { 5, 7, 7, 5, 5 } }, { 'G', { 7, 4, 5, 5, 7 } }, { '?', { 7, 1, 3, 0, 2 } },
};

/* text at (x, baseline y), 2x scale; align: 0 left, 1 centre, 2 right */
static void text(struct canvas *cv, double x, double y, const char *s, int align, const uint8_t c[3])
{
	size_t n = strnlen(s, 32);
	double w = (double)n * 8 - 2;
	double x0 = align == 0 ? x : align == 1 ? x - w / 2 : x - w;
	for (size_t i = 0; i < n; i++) {
		for (size_t g = 0; g < sizeof font / sizeof font[0]; g++) {
			if (font[g].ch != s[i])
				continue;
			for (int r = 0; r < 5; r++)
				for (int k = 0; k < 3; k++)
					if (font[g].rows[r] & (4 >> k))
						rect(cv, x0 + i * 8 + k * 2, y - 10 + r * 2, x0 + i * 8 + k * 2 + 2,
						     y - 10 + r * 2 + 2, c);
		}
	}
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void chunk(struct tw_tb *out, const char *type, const uint8_t *data, size_t len)
{
	uint8_t hd[8], crc[4];
	be32(hd, (uint32_t)len);
	memcpy(hd + 4, type, 4);
	uLong c = crc32(0, hd + 4, 4);
	if (len)
		c = crc32(c, data, (uInt)len);
	be32(crc, (uint32_t)c);
	tw_tb_add(out, hd, 8);
	if (len)
		tw_tb_add(out, data, len);
	tw_tb_add(out, crc, 4);
}

static int encode(struct tw_tb *out, const struct canvas *cv)
{
	size_t row = (size_t)cv->w * 3 + 1, raw_len = row * (size_t)cv->h;
	uint8_t *raw = malloc(raw_len);
	uLongf zlen = compressBound((uLong)raw_len);
	uint8_t *z = malloc(zlen);
	int rc = -1;
	if (!raw || !z)
		goto done;
	for (int y = 0; y < cv->h; y++) {
		raw[(size_t)y * row] = 0; /* filter: none */
		memcpy(raw + (size_t)y * row + 1, cv->px + (size_t)y * (size_t)cv->w * 3, (size_t)cv->w * 3);
	}
	if (compress2(z, &zlen, raw, (uLong)raw_len, 6) != Z_OK)
		goto done;
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	uint8_t ihdr[13];
	be32(ihdr, (uint32_t)cv->w);
	be32(ihdr + 4, (uint32_t)cv->h);
	ihdr[8] = 8; /* bit depth */
	ihdr[9] = 2; /* RGB */
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	tw_tb_add(out, sig, 8);
	chunk(out, "IHDR", ihdr, sizeof ihdr);
	chunk(out, "IDAT", z, zlen);
	chunk(out, "IEND", NULL, 0);
	rc = out->fail ? -1 : 0;
done:
	free(raw);
	free(z);
	return rc;
}

int tw_png_plot(struct tw_tb *out, const struct tw_svg_plot *p)
{
	struct tw_svg_layout l;
	if (tw_svg_layout(p, &l) < 0)
		return -1;
	struct canvas cv = { l.W, l.H, malloc((size_t)l.W * (size_t)l.H * 3) };
	if (!cv.px)
		return -1;
	memset(cv.px, 0xff, (size_t)l.W * (size_t)l.H * 3);
	static const uint8_t band[3] = { 0xf8, 0xdc, 0xd9 }, grid[3] = { 0xdd, 0xdd, 0xdd },
	                     ink[3] = { 0x33, 0x33, 0x33 }, black[3] = { 0, 0, 0 };
	for (int i = 0; i < p->nbands; i++) {
		double t0 = p->bands[i].t0, t1 = p->bands[i].t1;
		if (!isfinite(t0) || !isfinite(t1) || t1 < t0 || t1 < l.tmin || t0 > l.tmax)
			continue;
		double x0 = tw_svg_x(&l, t0), x1 = tw_svg_x(&l, t1);
		rect(&cv, x0, l.T, x1 - x0 < 1 ? x0 + 1 : x1, l.T + l.ph, band);
	}
	char lab[64];
	for (int k = 0; k <= 4; k++) {
		double v = l.ymax * k / 4, y = tw_svg_y(&l, v);
		line(&cv, l.L, y, l.L + l.pw, y, grid, 0, 0);
		tw_svg_human(v, lab, sizeof lab);
		text(&cv, l.L - 4, y + 5, lab, 2, ink);
	}
	int secs = l.tmax - l.tmin < 3 * 3600;
	for (int k = 0; k <= 4; k++) {
		double t = l.tmin + (l.tmax - l.tmin) * k / 4;
		tw_svg_axis_time(t, secs, lab, sizeof lab);
		text(&cv, tw_svg_x(&l, t), l.T + l.ph + 16, lab, k == 0 ? 0 : k == 4 ? 2 : 1, ink);
	}
	line(&cv, l.L, l.T, l.L, l.T + l.ph, ink, 0, 0);
	line(&cv, l.L, l.T + l.ph, l.L + l.pw, l.T + l.ph, ink, 0, 0);
	for (int s = 0; s < p->nseries; s++) {
		const struct tw_svg_series *x = &p->series[s];
		uint8_t c[3];
		rgb(tw_svg_color(p, s), c);
		size_t step = x->n > TW_SVG_MAX_POINTS ? (x->n + TW_SVG_MAX_POINTS - 1) / TW_SVG_MAX_POINTS : 1;
		double px = NAN, py = NAN;
		for (size_t i = 0; i < x->n; i += step) {
			if (!isfinite(x->t[i]) || !isfinite(x->v[i]))
				continue;
			double cx = tw_svg_x(&l, x->t[i]), cy = tw_svg_y(&l, x->v[i]);
			if (isfinite(px))
				line(&cv, px, py, cx, cy, c, x->dashed, 1);
			if (p->points)
				disc(&cv, cx, cy, 3, c);
			else if (
			        !isfinite(
			                px)) /* a line of one point shows nothing: a dot (erased by a second point's line) */
				disc(&cv, cx, cy, 2, c);
			px = cx;
			py = cy;
		}
		line(&cv, l.L + l.pw - 150, l.T + 10 + 14.0 * s, l.L + l.pw - 130, l.T + 10 + 14.0 * s, c, x->dashed,
		     1);
	}
	for (int i = 0; i < p->nmarks; i++) {
		double t = p->marks[i].t;
		if (isfinite(t) && t >= l.tmin && t <= l.tmax)
			line(&cv, tw_svg_x(&l, t), l.T, tw_svg_x(&l, t), l.T + l.ph, black, 1, 0);
	}
	int rc = encode(out, &cv);
	free(cv.px);
	return rc;
}
