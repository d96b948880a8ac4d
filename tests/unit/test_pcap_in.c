/* test_pcap_in.c - capture-file reader: crafted pcap/pcapng/gzip files written
 * at run time into a temp dir, then every capture of the shared corpus
 * (TW_CORPUS, default ../shared/corpus) checked against tcpdump's count.
 * Exits 0 only if every check passed. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "capture/pcap_in.h"

#include "check.h"

/* End of a group of checks: "ok" only if none of them failed since the last. */
static int mark;

static void done(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void done(const char *fmt, ...)
{
	va_list ap;

	printf("%s", fails > mark ? "FAIL " : "ok  ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	mark = fails;
}

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du
#define MAX_GOT 64

static char tmpdir[] = "/tmp/tw_pcap_in.XXXXXX";

static const char *tpath(const char *name)
{
	static char buf[8][512];
	static int slot;

	slot = (slot + 1) % 8;
	snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", tmpdir, name);
	return buf[slot];
}

/* ---- an in-memory capture image, then written plain or gzip ------------ */

struct img {
	uint8_t *b;
	size_t n, cap;
	size_t recend[MAX_GOT]; /* end offset of each record */
	int nrec;
};

static void img_put(struct img *im, const void *p, size_t n)
{
	if (im->n + n > im->cap) {
		im->cap = (im->n + n) * 2 + 1024;
		im->b = realloc(im->b, im->cap);
		if (!im->b) {
			perror("realloc");
			exit(2);
		}
	}
	memcpy(im->b + im->n, p, n);
	im->n += n;
}

static void img_u32(struct img *im, uint32_t v)
{
	img_put(im, &v, 4);
}
static void img_u16(struct img *im, uint16_t v)
{
	img_put(im, &v, 2);
}

static void img_ghdr(struct img *im, uint32_t magic, uint32_t snaplen, uint32_t lt)
{
	img_u32(im, magic);
	img_u16(im, 2);
	img_u16(im, 4);
	img_u32(im, 0);
	img_u32(im, 0);
	img_u32(im, snaplen);
	img_u32(im, lt);
}

static void img_rec(struct img *im, uint32_t sec, uint32_t frac, const void *d, uint32_t caplen, uint32_t origlen)
{
	img_u32(im, sec);
	img_u32(im, frac);
	img_u32(im, caplen);
	img_u32(im, origlen);
	img_put(im, d, caplen);
	if (im->nrec < MAX_GOT)
		im->recend[im->nrec++] = im->n;
}

static void img_free(struct img *im)
{
	free(im->b);
	memset(im, 0, sizeof(*im));
}

static void write_file(const char *path, const void *b, size_t n)
{
	FILE *fp = fopen(path, "wb");

	if (!fp || fwrite(b, 1, n, fp) != n || fclose(fp) != 0) {
		perror(path);
		exit(2);
	}
}

/* gzip the image with a sync flush after the header and after each record so
   a cut between flush points leaves those records decodable; off[i] is the
   compressed size once record i is flushed. */
static void write_gz(const char *path, const struct img *im, long off[MAX_GOT])
{
	gzFile gz = gzopen(path, "wb");
	size_t start = 24;

	if (!gz) {
		perror(path);
		exit(2);
	}
	gzwrite(gz, im->b, 24);
	gzflush(gz, Z_SYNC_FLUSH);
	for (int i = 0; i < im->nrec; i++) {
		gzwrite(gz, im->b + start, (unsigned)(im->recend[i] - start));
		gzflush(gz, Z_SYNC_FLUSH);
		if (off)
			off[i] = (long)gzoffset(gz);
		start = im->recend[i];
	}
	if (gzclose(gz) != Z_OK) {
		fprintf(stderr, "%s: gzclose failed\n", path);
		exit(2);
	}
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- packets -------------------------------------------------------------- */

static size_t mk_ip4(uint8_t *b, size_t plen, uint8_t tag)
{
	size_t n = 20 + plen;

	memset(b, 0, 20);
	b[0] = 0x45;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	b[4] = tag;
	b[8] = 64;
	b[9] = 17;
	b[12] = 10, b[15] = 1;
	b[16] = 10, b[19] = 2;
	for (size_t i = 0; i < plen; i++)
		b[20 + i] = (uint8_t)(tag + i * 7);
	return n;
}

static size_t mk_ip6(uint8_t *b, size_t plen, uint8_t tag)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	b[4] = (uint8_t)(plen >> 8);
	b[5] = (uint8_t)plen;
	b[6] = 17;
	b[7] = 64;
	b[23] = 1;
	b[39] = 2;
	b[3] = tag;
	for (size_t i = 0; i < plen; i++)
		b[40 + i] = (uint8_t)(tag ^ (i * 13));
	return 40 + plen;
}

static size_t mk_eth(uint8_t *b, uint16_t etype, const uint8_t *l3, size_t l3n, uint8_t tag)
{
	for (int i = 0; i < 12; i++)
		b[i] = (uint8_t)(tag + i);
	b[12] = (uint8_t)(etype >> 8);
	b[13] = (uint8_t)etype;
	memcpy(b + 14, l3, l3n);
	return 14 + l3n;
}

/* ---- reading a whole file ------------------------------------------------- */

struct got {
	int open_rc, end_rc; /* end_rc: 0 clean EOF, -1 fault */
	int n, dlt, gzip;
	char err[512];
	struct tw_pcap_stats st;
	struct {
		uint64_t ts;
		uint32_t caplen, origlen;
		uint8_t *data;
	} f[MAX_GOT];
};

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n && i < MAX_GOT; i++)
		free(g->f[i].data);
	memset(g, 0, sizeof(*g));
}

/* Read everything; frames past MAX_GOT are counted, not kept. */
static void read_all(const char *path, struct got *g)
{
	struct tw_pcap_in *in;
	struct tw_frame fr;
	int rc;

	memset(g, 0, sizeof(*g));
	g->open_rc = tw_pcap_open(&in, path, g->err, sizeof(g->err));
	if (g->open_rc != 0)
		return;
	g->dlt = tw_pcap_linktype(in);
	g->gzip = tw_pcap_is_gzip(in);
	while ((rc = tw_pcap_next(in, &fr, g->err, sizeof(g->err))) == 1) {
		if (g->n < MAX_GOT) {
			g->f[g->n].ts = fr.ts_ns;
			g->f[g->n].caplen = fr.caplen;
			g->f[g->n].origlen = fr.origlen;
			g->f[g->n].data = malloc(fr.caplen);
			memcpy(g->f[g->n].data, fr.data, fr.caplen);
		}
		g->n++;
	}
	g->end_rc = rc;
	/* The end state is sticky. */
	rc = tw_pcap_next(in, &fr, NULL, 0);
	CHECK(rc == g->end_rc, "%s: second call after the end returned %d, first %d", path, rc, g->end_rc);
	g->st = *tw_pcap_stats(in);
	tw_pcap_close(in);
}

static int frame_is(const struct got *g, int i, uint16_t etype, const uint8_t *l3, size_t l3n)
{
	static const uint8_t zero[12];

	if (i >= g->n || g->f[i].caplen != 14 + l3n)
		return 0;
	return memcmp(g->f[i].data, zero, 12) == 0 && g->f[i].data[12] == etype >> 8 &&
	       g->f[i].data[13] == (etype & 0xff) && memcmp(g->f[i].data + 14, l3, l3n) == 0;
}

/* ---- crafted-file tests --------------------------------------------------- */

/* Three Ethernet frames: IPv4, ARP-sized blob, IPv6 (the 1st stored short). */
static uint8_t e3[3][200];
static size_t e3n[3];
static const uint32_t e3sec[3] = { 1700000000u, 1700000000u, 1700000001u };
static const uint32_t e3usec[3] = { 123456, 999999, 0 };
static const uint32_t e3nsec[3] = { 123456789, 999999999, 1 };

static void build_eth3(struct img *im, uint32_t magic)
{
	uint8_t l3[200];
	size_t n;

	n = mk_ip4(l3, 26, 1);
	e3n[0] = mk_eth(e3[0], 0x0800, l3, n, 0x10);
	memset(l3, 0xA5, 28);
	e3n[1] = mk_eth(e3[1], 0x0806, l3, 28, 0x20);
	n = mk_ip6(l3, 100, 3);
	e3n[2] = mk_eth(e3[2], 0x86DD, l3, n, 0x30);

	img_ghdr(im, magic, 65535, 1);
	for (int i = 0; i < 3; i++)
		img_rec(im, e3sec[i], magic == MAGIC_NSEC ? e3nsec[i] : e3usec[i], e3[i], (uint32_t)e3n[i],
		        (uint32_t)e3n[i] + (i == 0 ? 1000 : 0));
}

static void check_eth3(const struct got *g, int nsec, const char *what)
{
	CHECK(g->open_rc == 0, "%s: open: %s", what, g->err);
	CHECK(g->n == 3 && g->end_rc == 0, "%s: %d frames, end %d (%s)", what, g->n, g->end_rc, g->err);
	for (int i = 0; i < 3 && i < g->n; i++) {
		uint64_t want = (uint64_t)e3sec[i] * 1000000000u + (nsec ? e3nsec[i] : (uint64_t)e3usec[i] * 1000u);
		CHECK(g->f[i].ts == want, "%s: frame %d ts %llu want %llu", what, i, (unsigned long long)g->f[i].ts,
		      (unsigned long long)want);
		CHECK(g->f[i].caplen == e3n[i] && memcmp(g->f[i].data, e3[i], e3n[i]) == 0,
		      "%s: frame %d bytes differ (caplen %u)", what, i, g->f[i].caplen);
		CHECK(g->f[i].origlen == e3n[i] + (i == 0 ? 1000 : 0), "%s: frame %d origlen %u", what, i,
		      g->f[i].origlen);
	}
	CHECK(g->st.packets == 3 && g->st.records == 3 && g->st.read_errors == 0 && g->st.out_of_order == 0 &&
	              g->st.skipped_truncated_l2 == 0 && g->st.skipped_unsupported_l3 == 0,
	      "%s: stats packets %llu errors %llu", what, (unsigned long long)g->st.packets,
	      (unsigned long long)g->st.read_errors);
	CHECK(g->dlt == 1, "%s: linktype %d", what, g->dlt);
}

static void test_ethernet(void)
{
	struct img im = { 0 };
	struct got g;

	build_eth3(&im, MAGIC_USEC);
	write_file(tpath("eth3.pcap"), im.b, im.n);
	read_all(tpath("eth3.pcap"), &g);
	check_eth3(&g, 0, "ethernet usec");
	CHECK(!g.gzip, "plain file reported as gzip");
	got_free(&g);
	img_free(&im);

	build_eth3(&im, MAGIC_NSEC);
	write_file(tpath("eth3ns.pcap"), im.b, im.n);
	read_all(tpath("eth3ns.pcap"), &g);
	check_eth3(&g, 1, "ethernet nsec");
	got_free(&g);
	img_free(&im);
	done("ethernet pcap: 3 frames byte-exact, usec->ns and nsec timestamps exact\n");
}

/* Raw IP link types: v4 and v6 by version nibble, junk nibble and empty skipped. */
static void test_raw(void)
{
	static const uint32_t lts[] = { 12, 14, 101, 228, 229 };
	uint8_t v4[64], v6[80], bad[24];
	size_t n4 = mk_ip4(v4, 12, 4), n6 = mk_ip6(v6, 9, 6);
	char name[64];

	memcpy(bad, v4, sizeof(bad));
	bad[0] = 0x55;
	for (size_t k = 0; k < sizeof(lts) / sizeof(lts[0]); k++) {
		struct img im = { 0 };
		struct got g;

		img_ghdr(&im, MAGIC_USEC, 65535, lts[k]);
		img_rec(&im, 1, 0, v4, (uint32_t)n4, (uint32_t)n4 + 100);
		img_rec(&im, 2, 0, bad, sizeof(bad), sizeof(bad));
		img_rec(&im, 3, 0, v4, 0, 40);
		img_rec(&im, 4, 0, v6, (uint32_t)n6, (uint32_t)n6);
		snprintf(name, sizeof(name), "raw%u.pcap", lts[k]);
		write_file(tpath(name), im.b, im.n);
		read_all(tpath(name), &g);
		CHECK(g.open_rc == 0, "linktype %u: open: %s", lts[k], g.err);
		CHECK(g.n == 2 && g.end_rc == 0, "linktype %u: %d frames end %d", lts[k], g.n, g.end_rc);
		CHECK(frame_is(&g, 0, 0x0800, v4, n4), "linktype %u: IPv4 frame wrong", lts[k]);
		CHECK(frame_is(&g, 1, 0x86DD, v6, n6), "linktype %u: IPv6 frame wrong", lts[k]);
		CHECK(g.n >= 1 && g.f[0].origlen == n4 + 100 + 14, "linktype %u: origlen %u", lts[k], g.f[0].origlen);
		CHECK(g.st.skipped_unsupported_l3 == 1 && g.st.skipped_truncated_l2 == 1,
		      "linktype %u: skipped l3 %llu l2 %llu", lts[k], (unsigned long long)g.st.skipped_unsupported_l3,
		      (unsigned long long)g.st.skipped_truncated_l2);
		done("raw linktype %u (libpcap dlt %d): v4/v6 by nibble, nibble 5 and empty skipped\n", lts[k], g.dlt);
		got_free(&g);
		img_free(&im);
	}
}

/* SLL (v1 and v2): the protocol field becomes the ethertype. */
static void test_sll(int v2)
{
	const uint32_t lt = v2 ? 276 : 113, hl = v2 ? 20 : 16;
	static const uint16_t protos[] = { 0x0800, 0x86DD, 0x0806, 0x8100, 0x0004 };
	uint8_t l3[5][128], rec[160];
	size_t l3n[5];
	struct img im = { 0 };
	struct got g;
	const char *name = v2 ? "sll2.pcap" : "sll.pcap";

	l3n[0] = mk_ip4(l3[0], 30, 7);
	l3n[1] = mk_ip6(l3[1], 20, 8);
	memset(l3[2], 0x11, 28), l3n[2] = 28;  /* ARP body */
	l3n[3] = mk_ip4(l3[3] + 4, 10, 9) + 4; /* VLAN tag + IPv4 */
	l3[3][0] = 0x00, l3[3][1] = 0x05, l3[3][2] = 0x08, l3[3][3] = 0x00;
	memset(l3[4], 0x42, 20), l3n[4] = 20; /* 802.2 LLC */

	img_ghdr(&im, MAGIC_USEC, 65535, lt);
	for (int i = 0; i < 5; i++) {
		memset(rec, 0, hl);
		if (v2) {
			rec[0] = (uint8_t)(protos[i] >> 8), rec[1] = (uint8_t)protos[i];
			rec[8] = 0, rec[9] = 1; /* ARPHRD_ETHER */
			rec[11] = 6;
		} else {
			rec[3] = 1; /* ARPHRD_ETHER */
			rec[5] = 6;
			rec[14] = (uint8_t)(protos[i] >> 8), rec[15] = (uint8_t)protos[i];
		}
		rec[v2 ? 12 : 6] = 0xAA; /* link address: must not leak into the frame */
		memcpy(rec + hl, l3[i], l3n[i]);
		img_rec(&im, 10 + (uint32_t)i, 0, rec, hl + (uint32_t)l3n[i], hl + (uint32_t)l3n[i]);
	}
	img_rec(&im, 20, 0, rec, 10, 60); /* shorter than the SLL header */
	write_file(tpath(name), im.b, im.n);
	read_all(tpath(name), &g);
	CHECK(g.open_rc == 0, "%s: open: %s", name, g.err);
	CHECK(g.n == 4 && g.end_rc == 0, "%s: %d frames end %d", name, g.n, g.end_rc);
	for (int i = 0; i < 4; i++) {
		CHECK(frame_is(&g, i, protos[i], l3[i], l3n[i]), "%s: frame %d (proto %04x) wrong", name, i, protos[i]);
		CHECK(i >= g.n || g.f[i].origlen == l3n[i] + 14, "%s: frame %d origlen %u", name, i, g.f[i].origlen);
	}
	CHECK(g.st.skipped_unsupported_l3 == 1 && g.st.skipped_truncated_l2 == 1 && g.st.records == 6,
	      "%s: skipped l3 %llu l2 %llu", name, (unsigned long long)g.st.skipped_unsupported_l3,
	      (unsigned long long)g.st.skipped_truncated_l2);
	CHECK(g.dlt == (int)lt, "%s: linktype %d", name, g.dlt);
	done("%s: IPv4/IPv6/ARP/802.1Q kept with their ethertype, LLC and 10-byte record skipped\n",
	     v2 ? "SLL2" : "SLL");
	got_free(&g);
	img_free(&im);
}

/* DLT_NULL (writer's byte order) and DLT_LOOP (network order). */
static void test_loopback(int loop)
{
	const uint32_t lt = loop ? 108 : 0;
	const char *name = loop ? "loop.pcap" : "null.pcap";
	/* family as a 4-byte field; for NULL, swapped entries mimic the other endianness */
	struct {
		uint8_t fam[4];
		uint16_t etype;
	} cases[6];
	uint8_t v4[64], v6[80], rec[128];
	size_t n4 = mk_ip4(v4, 8, 0x41), n6 = mk_ip6(v6, 8, 0x61);
	struct img im = { 0 };
	struct got g;
	int nc = 0, want = 0;

	if (loop) {
		const uint8_t f[4][4] = { { 0, 0, 0, 2 }, { 0, 0, 0, 30 }, { 0, 0, 0, 24 }, { 0, 0, 0, 17 } };
		const uint16_t e[4] = { 0x0800, 0x86DD, 0x86DD, 0 };
		for (int i = 0; i < 4; i++)
			memcpy(cases[nc].fam, f[i], 4), cases[nc++].etype = e[i];
	} else {
		uint32_t host[4] = { 2, 28, 24, 7 };
		const uint16_t e[4] = { 0x0800, 0x86DD, 0x86DD, 0 };
		for (int i = 0; i < 4; i++)
			memcpy(cases[nc].fam, &host[i], 4), cases[nc++].etype = e[i];
		uint32_t swapped = __builtin_bswap32(2u);
		memcpy(cases[nc].fam, &swapped, 4), cases[nc++].etype = 0x0800;
		swapped = __builtin_bswap32(30u);
		memcpy(cases[nc].fam, &swapped, 4), cases[nc++].etype = 0x86DD;
	}
	img_ghdr(&im, MAGIC_USEC, 65535, lt);
	for (int i = 0; i < nc; i++) {
		int six = cases[i].etype == 0x86DD;
		size_t n = six ? n6 : n4;
		memcpy(rec, cases[i].fam, 4);
		memcpy(rec + 4, six ? v6 : v4, n);
		img_rec(&im, 100 + (uint32_t)i, 0, rec, 4 + (uint32_t)n, 4 + (uint32_t)n);
	}
	img_rec(&im, 200, 0, rec, 3, 3); /* shorter than the family field */
	write_file(tpath(name), im.b, im.n);
	read_all(tpath(name), &g);
	CHECK(g.open_rc == 0, "%s: open: %s", name, g.err);
	for (int i = 0; i < nc; i++) {
		int six = cases[i].etype == 0x86DD;
		if (!cases[i].etype)
			continue;
		CHECK(frame_is(&g, want, cases[i].etype, six ? v6 : v4, six ? n6 : n4),
		      "%s: case %d (family %u.%u.%u.%u) frame wrong", name, i, cases[i].fam[0], cases[i].fam[1],
		      cases[i].fam[2], cases[i].fam[3]);
		want++;
	}
	CHECK(g.n == want && g.end_rc == 0, "%s: %d frames (want %d) end %d", name, g.n, want, g.end_rc);
	CHECK(g.st.skipped_unsupported_l3 == 1 && g.st.skipped_truncated_l2 == 1, "%s: skipped l3 %llu l2 %llu", name,
	      (unsigned long long)g.st.skipped_unsupported_l3, (unsigned long long)g.st.skipped_truncated_l2);
	done("%s: families 2/24/28/30%s mapped, unknown family and 3-byte record skipped\n",
	     loop ? "DLT_LOOP" : "DLT_NULL", loop ? "" : " (both byte orders)");
	got_free(&g);
	img_free(&im);
}

static void test_bad_opens(void)
{
	struct img im = { 0 };
	struct got g;

	img_ghdr(&im, MAGIC_USEC, 65535, 105);
	img_rec(&im, 1, 0, "0123456789", 10, 10);
	write_file(tpath("wifi.pcap"), im.b, im.n);
	read_all(tpath("wifi.pcap"), &g);
	CHECK(g.open_rc == -1 && strstr(g.err, "105") && strstr(g.err, "IEEE802_11") && strstr(g.err, "wifi.pcap"),
	      "link type 105: rc %d err '%s'", g.open_rc, g.err);
	done("link type 105 refused: %s\n", g.err);
	img_free(&im);

	read_all(tpath("does-not-exist.pcap"), &g);
	CHECK(g.open_rc == -1 && strstr(g.err, "does-not-exist.pcap") && strstr(g.err, "No such"), "missing file: '%s'",
	      g.err);
	done("missing file refused: %s\n", g.err);

	write_file(tpath("text.pcap"), "hello, this is not a capture file\n", 34);
	read_all(tpath("text.pcap"), &g);
	CHECK(g.open_rc == -1 && strstr(g.err, "text.pcap"), "text file: '%s'", g.err);
	done("text file refused: %s\n", g.err);

	write_file(tpath("empty.pcap"), "", 0);
	read_all(tpath("empty.pcap"), &g);
	CHECK(g.open_rc == -1 && strstr(g.err, "empty.pcap"), "empty file: '%s'", g.err);
	done("empty file refused: %s\n", g.err);

	read_all(tmpdir, &g);
	CHECK(g.open_rc == -1, "directory opened?");
	done("directory refused: %s\n", g.err);
}

static void test_truncated(void)
{
	struct img im = { 0 };
	struct got g;
	size_t cut;

	build_eth3(&im, MAGIC_USEC);
	/* in the middle of the 3rd record's data */
	cut = im.recend[1] + 16 + 20;
	write_file(tpath("cut-data.pcap"), im.b, cut);
	read_all(tpath("cut-data.pcap"), &g);
	CHECK(g.open_rc == 0 && g.n == 2 && g.end_rc == -1, "cut data: %d frames end %d", g.n, g.end_rc);
	CHECK(g.n == 2 && memcmp(g.f[1].data, e3[1], e3n[1]) == 0, "cut data: frame 2 differs");
	CHECK(strstr(g.err, "cut-data.pcap") && strstr(g.err, "packet 3"), "cut data: err '%s'", g.err);
	CHECK(g.st.read_errors == 1 && g.st.packets == 2, "cut data: read_errors %llu",
	      (unsigned long long)g.st.read_errors);
	done("truncated record: 2 frames then: %s\n", g.err);
	got_free(&g);

	/* in the middle of the 3rd record's header */
	cut = im.recend[1] + 9;
	write_file(tpath("cut-hdr.pcap"), im.b, cut);
	read_all(tpath("cut-hdr.pcap"), &g);
	CHECK(g.n == 2 && g.end_rc == -1 && g.st.read_errors == 1 && strstr(g.err, "packet 3"),
	      "cut header: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	done("truncated record header: 2 frames then: %s\n", g.err);
	got_free(&g);

	/* corrupt caplen in the 2nd record header */
	memcpy(im.b + im.recend[0] + 8, &(uint32_t){ 0xFFFFFFF0u }, 4);
	write_file(tpath("bigcap.pcap"), im.b, im.n);
	read_all(tpath("bigcap.pcap"), &g);
	CHECK(g.n == 1 && g.end_rc == -1 && g.st.read_errors == 1 && strstr(g.err, "packet 2") &&
	              strstr(g.err, "bigcap.pcap"),
	      "caplen 0xFFFFFFF0: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	done("caplen 0xFFFFFFF0: 1 frame then: %s\n", g.err);
	got_free(&g);
	img_free(&im);
}

/* Frames longer than TW_PCAP_MAX_FRAME are cut to it; origlen keeps the truth. */
static void test_clip(void)
{
	const uint32_t big = 70000;
	uint8_t *pkt = malloc(big);
	struct img im = { 0 };
	struct got g;

	for (uint32_t i = 0; i < big; i++)
		pkt[i] = (uint8_t)(i * 31 + 7);
	pkt[0] = 0x45;
	img_ghdr(&im, MAGIC_USEC, 262144, 1);
	img_rec(&im, 1, 0, pkt, big, big);
	write_file(tpath("big-eth.pcap"), im.b, im.n);
	read_all(tpath("big-eth.pcap"), &g);
	CHECK(g.n == 1 && g.end_rc == 0 && g.f[0].caplen == TW_PCAP_MAX_FRAME && g.f[0].origlen == big &&
	              memcmp(g.f[0].data, pkt, TW_PCAP_MAX_FRAME) == 0 && g.st.clipped_frames == 1,
	      "big ethernet: %d frames end %d caplen %u origlen %u (%s)", g.n, g.end_rc, g.n ? g.f[0].caplen : 0,
	      g.n ? g.f[0].origlen : 0, g.err);
	got_free(&g);
	img_free(&im);

	img_ghdr(&im, MAGIC_USEC, 262144, 101);
	img_rec(&im, 1, 0, pkt, big, big);
	write_file(tpath("big-raw.pcap"), im.b, im.n);
	read_all(tpath("big-raw.pcap"), &g);
	CHECK(g.n == 1 && g.f[0].caplen == TW_PCAP_MAX_FRAME && g.f[0].origlen == big + 14 &&
	              memcmp(g.f[0].data + 14, pkt, TW_PCAP_MAX_FRAME - 14) == 0,
	      "big raw: caplen %u origlen %u (%s)", g.n ? g.f[0].caplen : 0, g.n ? g.f[0].origlen : 0, g.err);
	done("70000-byte records clipped to %d bytes, origlen kept\n", TW_PCAP_MAX_FRAME);
	got_free(&g);
	img_free(&im);
	free(pkt);
}

static void test_out_of_order(void)
{
	static const uint32_t secs[] = { 10, 5, 7, 3, 3, 20 };
	struct img im = { 0 };
	struct got g;
	uint8_t l3[64], fr[80];
	size_t n = mk_eth(fr, 0x0800, l3, mk_ip4(l3, 4, 1), 0);

	img_ghdr(&im, MAGIC_USEC, 65535, 1);
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
		img_rec(&im, secs[i], 0, fr, (uint32_t)n, (uint32_t)n);
	write_file(tpath("ooo.pcap"), im.b, im.n);
	read_all(tpath("ooo.pcap"), &g);
	CHECK(g.n == 6 && g.end_rc == 0 && g.st.out_of_order == 2, "out of order: %d frames, counted %llu (want 2)",
	      g.n, (unsigned long long)g.st.out_of_order);
	CHECK(g.n == 6 && g.f[1].ts == 5000000000ull, "out of order: frame 2 ts %llu", (unsigned long long)g.f[1].ts);
	done("out-of-order timestamps tolerated and counted (%llu)\n", (unsigned long long)g.st.out_of_order);
	got_free(&g);
	img_free(&im);
}

static void test_gzip(void)
{
	struct img im = { 0 };
	struct got g;
	long off[MAX_GOT], full;

	build_eth3(&im, MAGIC_USEC);
	/* Named .pcap on purpose: detection is by magic, not by name. */
	write_gz(tpath("eth3gz.pcap"), &im, off);
	read_all(tpath("eth3gz.pcap"), &g);
	check_eth3(&g, 0, "gzip");
	CHECK(g.gzip, "gzip not reported as gzip");
	done("gzip (named .pcap) gives the same 3 frames as the plain file\n");
	got_free(&g);

	full = file_size(tpath("eth3gz.pcap"));
	/* cut at the flush point after record 2: a stream cut short, not a clean end */
	write_gz(tpath("gz-cut2.pcap.gz"), &im, off);
	CHECK(truncate(tpath("gz-cut2.pcap.gz"), off[1]) == 0, "truncate: %s", strerror(errno));
	read_all(tpath("gz-cut2.pcap.gz"), &g);
	CHECK(g.open_rc == 0 && g.n == 2 && g.end_rc == -1 && g.st.read_errors == 1,
	      "gzip cut at record boundary: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	CHECK(strstr(g.err, "gzip stream truncated after 2 packets") && strstr(g.err, "gz-cut2"),
	      "gzip cut at boundary: err '%s'", g.err);
	done("gzip cut after record 2: 2 frames then: %s\n", g.err);
	got_free(&g);

	/* cut inside the compressed data of record 3 */
	write_gz(tpath("gz-cut3.pcap.gz"), &im, off);
	CHECK(truncate(tpath("gz-cut3.pcap.gz"), off[1] + (off[2] - off[1]) / 2) == 0, "truncate");
	read_all(tpath("gz-cut3.pcap.gz"), &g);
	CHECK(g.n == 2 && g.end_rc == -1 && g.st.read_errors == 1 && strstr(g.err, "gzip stream truncated"),
	      "gzip cut mid record: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	done("gzip cut inside record 3: 2 frames then: %s\n", g.err);
	got_free(&g);

	/* only the 8-byte trailer (CRC, size) cut short: all frames, still a fault */
	write_gz(tpath("gz-trailer.pcap.gz"), &im, off);
	CHECK(truncate(tpath("gz-trailer.pcap.gz"), full - 4) == 0, "truncate");
	read_all(tpath("gz-trailer.pcap.gz"), &g);
	CHECK(g.n == 3 && g.end_rc == -1 && strstr(g.err, "gzip stream truncated"),
	      "gzip trailer cut: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	done("gzip trailer cut: 3 frames then: %s\n", g.err);
	got_free(&g);

	/* cut inside the gzip header: open fails cleanly */
	write_gz(tpath("gz-head.pcap.gz"), &im, off);
	CHECK(truncate(tpath("gz-head.pcap.gz"), 6) == 0, "truncate");
	read_all(tpath("gz-head.pcap.gz"), &g);
	CHECK(g.open_rc == -1 && strstr(g.err, "gz-head"), "gzip header cut: rc %d '%s'", g.open_rc, g.err);
	done("gzip header cut: open fails: %s\n", g.err);
	got_free(&g);

	/* a flipped byte in the compressed data: a fault, never a clean end */
	write_gz(tpath("gz-flip.pcap.gz"), &im, off);
	{
		FILE *fp = fopen(tpath("gz-flip.pcap.gz"), "r+b");
		long at = off[0] + (off[1] - off[0]) / 2;
		int c;

		CHECK(fp && fseek(fp, at, SEEK_SET) == 0 && (c = fgetc(fp)) != EOF && fseek(fp, at, SEEK_SET) == 0 &&
		              fputc(c ^ 0x5A, fp) != EOF && fclose(fp) == 0,
		      "flip byte");
	}
	/* zlib drops the output of the inflate call that hit bad data, so the
       fault may come at open or after fewer frames: only require a fault. */
	read_all(tpath("gz-flip.pcap.gz"), &g);
	CHECK((g.open_rc == -1 || (g.end_rc == -1 && g.st.read_errors == 1)) && strstr(g.err, "gzip stream corrupt") &&
	              strstr(g.err, "gz-flip"),
	      "gzip flipped byte: rc %d, %d frames end %d '%s'", g.open_rc, g.n, g.end_rc, g.err);
	done("gzip corrupt byte: %d frame(s) then: %s\n", g.n, g.err);
	got_free(&g);
	img_free(&im);
}

/* A large stream (many zlib buffers) cut in the middle, without flush points:
   the records before the cut come back, then the fault. */
static void test_gzip_large(void)
{
	struct img im = { 0 };
	struct got g;
	uint8_t l3[1500], fr[1600];
	const int nrec = 3000;
	long size;

	img_ghdr(&im, MAGIC_NSEC, 65535, 1);
	for (int i = 0; i < nrec; i++) {
		size_t n = mk_eth(fr, 0x0800, l3, mk_ip4(l3, 60 + (size_t)(i * 37) % 1400, (uint8_t)i), (uint8_t)i);
		img_rec(&im, 1000 + (uint32_t)i, (uint32_t)i, fr, (uint32_t)n, (uint32_t)n);
	}
	{
		gzFile gz = gzopen(tpath("large.pcap.gz"), "wb");
		CHECK(gz && gzwrite(gz, im.b, (unsigned)im.n) == (int)im.n && gzclose(gz) == Z_OK,
		      "write large.pcap.gz");
	}
	read_all(tpath("large.pcap.gz"), &g);
	CHECK(g.n == nrec && g.end_rc == 0 && g.st.out_of_order == 0, "large gzip: %d frames end %d '%s'", g.n,
	      g.end_rc, g.err);
	got_free(&g);
	size = file_size(tpath("large.pcap.gz"));
	CHECK(truncate(tpath("large.pcap.gz"), size / 2) == 0, "truncate");
	read_all(tpath("large.pcap.gz"), &g);
	CHECK(g.n > nrec / 4 && g.n < nrec && g.end_rc == -1 && g.st.read_errors == 1 &&
	              strstr(g.err, "gzip stream truncated"),
	      "large gzip cut in half: %d frames end %d '%s'", g.n, g.end_rc, g.err);
	done("gzip %zu -> %ld bytes, %d records; cut in half: %d frames then: %s\n", im.n, size, nrec, g.n, g.err);
	got_free(&g);
	img_free(&im);
}

/* Feed a file to "-" through a pipe (not seekable) or as a redirected file. */
static void read_as_stdin(const char *path, int use_pipe, struct got *g)
{
	int saved = dup(STDIN_FILENO), pfd[2], fd;
	pid_t pid = -1;

	if (use_pipe) {
		if (pipe(pfd) != 0) {
			perror("pipe");
			exit(2);
		}
		pid = fork();
		if (pid == 0) {
			char buf[4096];
			ssize_t r;
			close(pfd[0]);
			fd = open(path, O_RDONLY);
			while (fd >= 0 && (r = read(fd, buf, sizeof(buf))) > 0)
				if (write(pfd[1], buf, (size_t)r) != r)
					_exit(1);
			_exit(0);
		}
		close(pfd[1]);
		fd = pfd[0];
	} else {
		fd = open(path, O_RDONLY);
	}
	dup2(fd, STDIN_FILENO);
	close(fd);
	read_all("-", g);
	dup2(saved, STDIN_FILENO);
	close(saved);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void test_stdin(void)
{
	struct got g;

	read_as_stdin(tpath("eth3.pcap"), 1, &g);
	check_eth3(&g, 0, "stdin pipe plain");
	got_free(&g);
	read_as_stdin(tpath("eth3gz.pcap"), 1, &g);
	check_eth3(&g, 0, "stdin pipe gzip");
	CHECK(g.gzip, "stdin gzip not reported as gzip");
	got_free(&g);
	read_as_stdin(tpath("eth3gz.pcap"), 0, &g);
	check_eth3(&g, 0, "stdin file gzip");
	got_free(&g);
	read_as_stdin(tpath("gz-cut2.pcap.gz"), 1, &g);
	CHECK(g.n == 2 && g.end_rc == -1 && strstr(g.err, "stdin"), "stdin gzip cut: %d frames end %d '%s'", g.n,
	      g.end_rc, g.err);
	got_free(&g);
	done("\"-\": plain and gzip through a pipe and a redirected file; cut gzip: fault\n");
}

/* A minimal pcapng (SHB, IDB for SLL, two EPBs); nsres adds if_tsresol=9. */
static void build_pcapng(struct img *im, int nsres, const uint8_t *v4, size_t n4)
{
	uint8_t rec[128];
	uint32_t pad, reclen;
	uint64_t ts;

	img_u32(im, 0x0A0D0D0A), img_u32(im, 28), img_u32(im, 0x1A2B3C4D);
	img_u16(im, 1), img_u16(im, 0), img_u32(im, 0xFFFFFFFF), img_u32(im, 0xFFFFFFFF);
	img_u32(im, 28);
	img_u32(im, 1), img_u32(im, nsres ? 32 : 20), img_u16(im, 113), img_u16(im, 0);
	img_u32(im, 65535);
	if (nsres) {
		img_u16(im, 9), img_u16(im, 1), img_u32(im, 9); /* if_tsresol = 10^-9, padded */
		img_u32(im, 0);                                 /* opt_endofopt */
	}
	img_u32(im, nsres ? 32 : 20);
	memset(rec, 0, 16);
	rec[14] = 0x08;
	memcpy(rec + 16, v4, n4);
	reclen = 16 + (uint32_t)n4;
	pad = (4 - reclen % 4) % 4;
	for (int i = 0; i < 2; i++) {
		ts = nsres ? 1700000000123456789ull + (uint64_t)i : 1700000000123456ull + (uint64_t)i;
		img_u32(im, 6), img_u32(im, 32 + reclen + pad), img_u32(im, 0);
		img_u32(im, (uint32_t)(ts >> 32)), img_u32(im, (uint32_t)ts);
		img_u32(im, reclen), img_u32(im, reclen + 5);
		img_put(im, rec, reclen);
		img_put(im, "\0\0\0", pad);
		img_u32(im, 32 + reclen + pad);
	}
}

static void test_pcapng_crafted(void)
{
	uint8_t v4[64];
	size_t n4 = mk_ip4(v4, 11, 0x77);

	for (int nsres = 0; nsres < 2; nsres++) {
		struct img im = { 0 };
		struct got g;
		const char *name = nsres ? "ns.pcapng" : "us.pcapng";
		uint64_t want = nsres ? 1700000000123456789ull : 1700000000123456000ull;

		build_pcapng(&im, nsres, v4, n4);
		write_file(tpath(name), im.b, im.n);
		read_all(tpath(name), &g);
		CHECK(g.open_rc == 0 && g.n == 2 && g.end_rc == 0, "%s: rc %d n %d end %d '%s'", name, g.open_rc, g.n,
		      g.end_rc, g.err);
		CHECK(frame_is(&g, 0, 0x0800, v4, n4) && frame_is(&g, 1, 0x0800, v4, n4), "%s: frames wrong", name);
		CHECK(g.n == 2 && g.f[0].ts == want && g.f[1].ts == want + (nsres ? 1 : 1000), "%s: ts %llu want %llu",
		      name, g.n ? (unsigned long long)g.f[0].ts : 0ull, (unsigned long long)want);
		CHECK(g.n == 2 && g.f[0].origlen == n4 + 5 + 14, "%s: origlen", name);
		got_free(&g);

		/* gzip of the same pcapng */
		{
			gzFile gz = gzopen(tpath("ng.gz"), "wb");
			gzwrite(gz, im.b, (unsigned)im.n);
			gzclose(gz);
		}
		read_all(tpath("ng.gz"), &g);
		CHECK(g.n == 2 && g.end_rc == 0 && g.gzip && g.f[0].ts == want, "%s gzip: n %d end %d '%s'", name, g.n,
		      g.end_rc, g.err);
		got_free(&g);
		img_free(&im);
	}
	done("crafted pcapng (SLL, usec and if_tsresol=9), plain and gzip\n");
}

/* ---- the shared corpus ---------------------------------------------------- */

#define MAX_FILES 4096
static char *cfiles[MAX_FILES];
static int ncfiles;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	const char *base = path + ftw->base;
	size_t n = strlen(base);

	(void)sb;
	if (type == FTW_F && ncfiles < MAX_FILES &&
	    (strstr(base, ".pcap") || (n > 4 && strcmp(base + n - 4, ".cap") == 0)))
		cfiles[ncfiles++] = strdup(path);
	return 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Packet count according to tcpdump (lines printed), or -1 if it could not
   run; *faulted = tcpdump exited non-zero (it prints the packets before a
   fault, then fails, as a truncated file should make us fail too). */
static long tcpdump_count(const char *path, int *faulted)
{
	char cmd[8192], *o = cmd;
	long n = 0;
	FILE *p;
	int c;

	o += snprintf(o, 64, "tcpdump -n -q -t -r '");
	for (const char *s = path; *s && o < cmd + sizeof(cmd) - 64; s++) {
		if (*s == '\'')
			o += snprintf(o, 8, "'\\''");
		else
			*o++ = *s;
	}
	snprintf(o, 32, "' 2>/dev/null");
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	c = pclose(p);
	if (c == -1 || !WIFEXITED(c) || WEXITSTATUS(c) == 127)
		return -1;
	*faulted = WEXITSTATUS(c) != 0;
	return n;
}

static void test_corpus(void)
{
	const char *dir = getenv("TW_CORPUS") ? getenv("TW_CORPUS") : "../shared/corpus";
	int have_tcpdump = system("command -v tcpdump >/dev/null 2>&1") == 0;
	unsigned long long total = 0, total_td = 0, bad_l3 = 0;
	int faults = 0;
	char hs[1024];
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		printf("SKIP corpus: %s is missing (set TW_CORPUS)\n", dir);
		return;
	}
	if (!have_tcpdump)
		printf("note: tcpdump not installed, counts are not cross-checked\n");

	/* tcp_handshake.pcapng: every frame a known ethertype */
	snprintf(hs, sizeof(hs), "%s/chrissanders__packets/tcp_handshake.pcapng", dir);
	if (access(hs, R_OK) == 0) {
		struct got g;
		int ok = 1;
		read_all(hs, &g);
		for (int i = 0; i < g.n && i < MAX_GOT; i++) {
			unsigned et = g.f[i].caplen >= 14 ? (unsigned)(g.f[i].data[12] << 8 | g.f[i].data[13]) : 0;
			ok &= et == 0x0800 || et == 0x86DD || et == 0x0806 || et == 0x8100 || et == 0x88A8;
		}
		CHECK(g.open_rc == 0 && g.n > 0 && g.end_rc == 0 && ok,
		      "tcp_handshake.pcapng: rc %d n %d end %d ethertypes ok %d '%s'", g.open_rc, g.n, g.end_rc, ok,
		      g.err);
		done("tcp_handshake.pcapng: %d frames, all IPv4/IPv6/ARP/VLAN\n", g.n);
		got_free(&g);
	} else {
		printf("SKIP tcp_handshake.pcapng not found under %s\n", dir);
	}

	if (nftw(dir, collect, 16, FTW_PHYS) != 0) {
		CHECK(0, "nftw %s: %s", dir, strerror(errno));
		return;
	}
	qsort(cfiles, (size_t)ncfiles, sizeof(cfiles[0]), cmpstr);
	CHECK(ncfiles > 0, "no capture files under %s", dir);
	for (int i = 0; i < ncfiles; i++) {
		struct tw_pcap_in *in;
		struct tw_frame fr;
		char err[512] = "";
		unsigned long long skipped, bad = 0;
		long td;
		int rc, td_fault = 0;

		rc = tw_pcap_open(&in, cfiles[i], err, sizeof(err));
		CHECK(rc == 0, "%s", err);
		if (rc != 0)
			continue;
		while ((rc = tw_pcap_next(in, &fr, err, sizeof(err))) == 1) {
			/* the synthesized or original ethertype agrees with the IP version */
			unsigned et = (unsigned)(fr.data[12] << 8 | fr.data[13]);
			if (fr.caplen < 14 || fr.caplen > TW_PCAP_MAX_FRAME || fr.origlen < fr.caplen ||
			    (fr.caplen > 14 && et == 0x0800 && fr.data[14] >> 4 != 4) ||
			    (fr.caplen > 14 && et == 0x86DD && fr.data[14] >> 4 != 6))
				bad++;
		}
		const struct tw_pcap_stats *s = tw_pcap_stats(in);
		skipped = s->skipped_truncated_l2 + s->skipped_unsupported_l3;
		td = have_tcpdump ? tcpdump_count(cfiles[i], &td_fault) : -1;
		if (td >= 0 && td_fault) {
			/* tcpdump failed on this file too: we must fault, not end cleanly */
			CHECK(rc == -1 && s->read_errors == 1, "%s: tcpdump faults, we ended with %d", cfiles[i], rc);
			printf("    (fault, as tcpdump: %s)\n", err);
			faults++;
		} else {
			CHECK(rc == 0, "%s ended in a fault: %s", cfiles[i], err);
		}
		if (td >= 0) {
			CHECK((unsigned long long)td == s->packets + skipped,
			      "%s: %llu frames + %llu skipped, tcpdump says %ld", cfiles[i],
			      (unsigned long long)s->packets, skipped, td);
			total_td += (unsigned long long)td;
		}
		CHECK(bad == 0, "%s: %llu frames with inconsistent ethertype/length", cfiles[i], bad);
		bad_l3 += bad;
		total += s->packets + skipped;
		printf("    %6llu frames %4llu skipped %3llu ooo  tcpdump %5ld  dlt %3d  %s\n",
		       (unsigned long long)s->packets, skipped, (unsigned long long)s->out_of_order, td,
		       tw_pcap_linktype(in), cfiles[i] + strlen(dir) + 1);
		tw_pcap_close(in);
	}
	if (have_tcpdump)
		CHECK(total == total_td, "corpus total %llu, tcpdump total %llu", total, total_td);
	done("corpus: %d files, %llu packets (tcpdump: %llu), %d file(s) ending in a fault "
	     "as tcpdump says, %llu inconsistent frames\n",
	     ncfiles, total, total_td, faults, bad_l3);
	for (int i = 0; i < ncfiles; i++)
		free(cfiles[i]);
}

static int rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)type, (void)ftw;
	return remove(path);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	test_ethernet();
	test_raw();
	test_sll(0);
	test_sll(1);
	test_loopback(0);
	test_loopback(1);
	test_bad_opens();
	test_truncated();
	test_clip();
	test_out_of_order();
	test_gzip();
	test_gzip_large();
	test_stdin();
	test_pcapng_crafted();
	test_corpus();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	printf("%s: %d checks, %d failed\n", fails ? "FAIL" : "PASS", checks, fails);
	return fails ? 1 : 0;
}
