/* pcap_in.c - capture-file reader for offline replay (see pcap_in.h). */
#include "capture/pcap_in.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zlib.h>

#define ETH_HLEN_ 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define LOOP_HLEN 4

/* Link types by their numeric values: DLT_RAW and DLT_LOOP differ between
   platforms, and a file may carry either the DLT or the LINKTYPE value. */
enum {
	LT_NULL = 0,
	LT_EN10MB = 1,
	LT_RAW_A = 12,
	LT_RAW_B = 14,
	LT_RAW = 101,
	LT_LOOP = 108,
	LT_SLL = 113,
	LT_IPV4 = 228,
	LT_IPV6 = 229,
	LT_SLL2 = 276,
};

enum { ST_OPEN, ST_EOF, ST_FAULT };

/* The zlib side of a gzip input, behind a fopencookie() FILE* so libpcap can
   parse the decompressed bytes as if they were a plain file.  A pipe is read
   by our own loop (pipe_read), not gzread: gzread waits until it has filled
   the whole request, so packets already in the pipe would wait for more
   input, and it takes a signal's EINTR for a corrupt stream. */
struct gz_src {
	gzFile gz;
	int failed; /* zlib reported an error or a stream cut short */
	int zerr;   /* zlib error code at failure */
	char zmsg[128];
	/* pipes */
	int fd;         /* >= 0: read by pipe_read */
	int mode;       /* PIPE_SNIFF, PIPE_PLAIN, PIPE_GZIP */
	int eof;        /* read() returned 0 */
	int member_end; /* a gzip member ended: another may follow */
	int z_init;     /* zs needs inflateEnd */
	int stopped;    /* the stop flag was set while waiting for input */
	z_stream zs;
	unsigned char in[1u << 15];
	size_t sniffed; /* PIPE_PLAIN: bytes in in[] read while sniffing, not yet returned */
	size_t sniff_off;
};

enum { PIPE_SNIFF, PIPE_PLAIN, PIPE_GZIP };

static volatile sig_atomic_t *stop_flag;

void tw_pcap_stop_flag(volatile sig_atomic_t *stop)
{
	stop_flag = stop;
}

static int stopping(void)
{
	return stop_flag && *stop_flag;
}

struct tw_pcap_in {
	pcap_t *p;
	int dlt;
	int via_gz;  /* read through zlib (gzip, or a pipe zlib copied through) */
	int is_gzip; /* input really was gzip-compressed */
	int state;
	struct gz_src gzs;
	uint64_t last_ts;
	int posfd;     /* a dup of the input: shares its offset (progress), -1 if none */
	uint64_t size; /* a regular file's size; 0: unknown (a pipe) */
	struct tw_pcap_stats st;
	char name[256];
	char fault[512];
	uint8_t buf[TW_PCAP_MAX_FRAME];
	char iobuf[1 << 20]; /* stdio reads 1 MiB at a time, not 4 KiB */
};

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static ssize_t pipe_fail(struct gz_src *s, int zerr, const char *msg)
{
	s->failed = 1;
	s->zerr = zerr;
	snprintf(s->zmsg, sizeof(s->zmsg), "%s", msg && *msg ? msg : "read error");
	errno = EIO;
	return -1;
}

/* One read(): what the pipe holds now, 0 at its end; a signal ends the wait
   only when the stop flag is set (s->stopped: the reader stops cleanly) */
static ssize_t pipe_fill(struct gz_src *s, unsigned char *p, size_t cap)
{
	for (;;) {
		ssize_t r = read(s->fd, p, cap);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -1;
		if (stopping()) {
			s->stopped = 1;
			return -2;
		}
	}
}

/* more compressed input after what inflate has not used yet: 0, -2 stopped, -1 error */
static ssize_t gz_more(struct gz_src *s)
{
	memmove(s->in, s->zs.next_in, s->zs.avail_in);
	ssize_t r = pipe_fill(s, s->in + s->zs.avail_in, sizeof(s->in) - s->zs.avail_in);
	if (r < 0)
		return r;
	s->eof = r == 0;
	s->zs.next_in = s->in;
	s->zs.avail_in += (uInt)r;
	return 0;
}

static ssize_t pipe_read(struct gz_src *s, char *buf, size_t size)
{
	ssize_t r;

	if (s->stopped)
		return 0;
	while (s->mode == PIPE_SNIFF) { /* the first two bytes say gzip or not */
		if (s->sniffed >= 2 || s->eof) {
			if (s->sniffed >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
				if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
					return pipe_fail(s, Z_MEM_ERROR, "out of memory");
				s->z_init = 1;
				s->zs.next_in = s->in;
				s->zs.avail_in = (uInt)s->sniffed;
				s->mode = PIPE_GZIP;
			} else {
				s->mode = PIPE_PLAIN;
			}
			break;
		}
		r = pipe_fill(s, s->in + s->sniffed, sizeof(s->in) - s->sniffed);
		if (r == -2)
			return 0;
		if (r < 0)
			return pipe_fail(s, Z_ERRNO, strerror(errno));
		s->eof = r == 0;
		s->sniffed += (size_t)r;
	}
	if (s->mode == PIPE_PLAIN) {
		if (s->sniff_off < s->sniffed) {
			size_t n = s->sniffed - s->sniff_off < size ? s->sniffed - s->sniff_off : size;
			memcpy(buf, s->in + s->sniff_off, n);
			s->sniff_off += n;
			return (ssize_t)n;
		}
		if (s->eof)
			return 0;
		r = pipe_fill(s, (unsigned char *)buf, size);
		if (r == -2)
			return 0;
		if (r < 0)
			return pipe_fail(s, Z_ERRNO, strerror(errno));
		s->eof = r == 0;
		return r;
	}
	for (;;) { /* gzip: inflate what has arrived, read more only when nothing came out */
		if (s->member_end) {
			if (s->zs.avail_in < 2 && !s->eof) {
				if ((r = gz_more(s)) < 0)
					return r == -2 ? 0 : pipe_fail(s, Z_ERRNO, strerror(errno));
				continue;
			}
			/* another member follows, or the end (trailing bytes ignored, as gzread does) */
			if (s->zs.avail_in < 2 || s->zs.next_in[0] != 0x1f || s->zs.next_in[1] != 0x8b)
				return 0;
			inflateReset(&s->zs);
			s->member_end = 0;
		}
		if (!s->zs.avail_in && !s->eof && (r = gz_more(s)) < 0)
			return r == -2 ? 0 : pipe_fail(s, Z_ERRNO, strerror(errno));
		s->zs.next_out = (Bytef *)buf;
		s->zs.avail_out = (uInt)(size > (1u << 30) ? (1u << 30) : size);
		uInt before = s->zs.avail_out;
		int z = inflate(&s->zs, Z_NO_FLUSH);
		size_t out = before - s->zs.avail_out;
		if (z == Z_STREAM_END)
			s->member_end = 1;
		else if (z != Z_OK && z != Z_BUF_ERROR)
			return pipe_fail(s, z == Z_NEED_DICT ? Z_DATA_ERROR : z, s->zs.msg ? s->zs.msg : zError(z));
		if (out)
			return (ssize_t)out;
		if (!s->member_end && s->eof && !s->zs.avail_in)
			return pipe_fail(s, Z_BUF_ERROR, "unexpected end of file");
	}
}

static ssize_t gz_cookie_read(void *cookie, char *buf, size_t size)
{
	struct gz_src *s = cookie;
	const char *m;
	int n, zerr = Z_OK;

	if (s->failed) {
		errno = EIO;
		return -1;
	}
	if (s->fd >= 0)
		return pipe_read(s, buf, size);
	if (size > INT_MAX)
		size = INT_MAX;
	n = gzread(s->gz, buf, (unsigned)size);
	if (n > 0)
		return n;
	m = gzerror(s->gz, &zerr);
	/* gzread returns 0, not -1, for a stream cut short (Z_BUF_ERROR "unexpected
       end of file"), so a clean EOF is only 0 with no error recorded. */
	if (n == 0 && zerr == Z_OK)
		return 0;
	s->failed = 1;
	s->zerr = zerr == Z_OK ? Z_ERRNO : zerr;
	/* zlib prefixes its message with "<fd:N>: "; the caller names the file. */
	if (m && strncmp(m, "<fd:", 4) == 0 && strstr(m, ": "))
		m = strstr(m, ": ") + 2;
	snprintf(s->zmsg, sizeof(s->zmsg), "%s", (m && *m) ? m : "read error");
	errno = EIO;
	return -1;
}

static int gz_cookie_close(void *cookie)
{
	struct gz_src *s = cookie;

	if (s->gz) {
		gzclose(s->gz);
		s->gz = NULL;
	}
	if (s->z_init)
		inflateEnd(&s->zs);
	s->z_init = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	return 0;
}

static int link_supported(int dlt)
{
	switch (dlt) {
	case LT_NULL:
	case LT_EN10MB:
	case LT_RAW_A:
	case LT_RAW_B:
	case LT_RAW:
	case LT_LOOP:
	case LT_SLL:
	case LT_IPV4:
	case LT_IPV6:
	case LT_SLL2: return 1;
	}
	return 0;
}

/* Describe a zlib failure in one phrase: "truncated" for a cut stream. */
static const char *gz_what(const struct gz_src *s)
{
	return s->zerr == Z_BUF_ERROR ? "truncated" : "corrupt";
}

/* Open fd (owned) as a pcap_t.  Regular files whose first bytes are not the
   gzip magic go straight to libpcap; gzip files and pipes go through zlib,
   which decompresses gzip and copies anything else through unchanged, so a
   pipe never needs its first bytes pushed back. */
static pcap_t *open_fd(struct tw_pcap_in *in, int fd, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	unsigned char magic[2] = { 0, 0 };
	cookie_io_functions_t io = { .read = gz_cookie_read, .close = gz_cookie_close };
	ssize_t r = -1;
	pcap_t *p;
	FILE *fp;
	off_t off;

	off = lseek(fd, 0, SEEK_CUR);
	if (off >= 0)
		r = pread(fd, magic, sizeof(magic), off);
	if (off < 0 && errno != ESPIPE) {
		seterr(err, errlen, "%s: %s", in->name, strerror(errno));
		close(fd);
		return NULL;
	}
	if (off >= 0 && r < 0) {
		seterr(err, errlen, "%s: %s", in->name, strerror(errno));
		close(fd);
		return NULL;
	}
	in->via_gz = off < 0 || (r == 2 && magic[0] == 0x1f && magic[1] == 0x8b);

	if (!in->via_gz) {
		fp = fdopen(fd, "rb");
		if (!fp) {
			seterr(err, errlen, "%s: %s", in->name, strerror(errno));
			close(fd);
			return NULL;
		}
		/* glibc ignores the size unless it is handed the buffer itself */
		setvbuf(fp, in->iobuf, _IOFBF, sizeof(in->iobuf));
	} else if (off < 0) {
		in->gzs.fd = fd; /* a pipe: pipe_read */
		fp = fopencookie(&in->gzs, "rb", io);
		if (!fp) {
			seterr(err, errlen, "%s: %s", in->name, strerror(errno));
			close(fd);
			in->gzs.fd = -1;
			return NULL;
		}
	} else {
		in->gzs.gz = gzdopen(fd, "rb");
		if (!in->gzs.gz) {
			seterr(err, errlen, "%s: cannot start gzip reader", in->name);
			close(fd);
			return NULL;
		}
		/* Modest buffer: zlib discards the output of an inflate call that
           hits corrupt data, so this bounds what is lost before a fault. */
		gzbuffer(in->gzs.gz, 1u << 15);
		fp = fopencookie(&in->gzs, "rb", io);
		if (!fp) {
			seterr(err, errlen, "%s: %s", in->name, strerror(errno));
			gzclose(in->gzs.gz);
			in->gzs.gz = NULL;
			return NULL;
		}
	}

	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!p) {
		if (in->gzs.stopped)
			seterr(err, errlen, "%s: stopped before the capture header", in->name);
		else if (in->via_gz && in->gzs.failed)
			seterr(err, errlen, "%s: gzip stream %s before the capture header (zlib: %s)", in->name,
			       gz_what(&in->gzs), in->gzs.zmsg);
		else
			seterr(err, errlen, "%s: %s", in->name, ebuf[0] ? ebuf : "cannot read capture");
		fclose(fp); /* libpcap leaves fp open on failure; closes gz too */
		return NULL;
	}
	if (in->via_gz)
		in->is_gzip = in->gzs.gz ? !gzdirect(in->gzs.gz) : in->gzs.mode == PIPE_GZIP;
	return p;
}

int tw_pcap_open(struct tw_pcap_in **out, const char *path, char *err, size_t errlen)
{
	struct tw_pcap_in *in;
	const char *lname;
	int fd, is_stdin;

	if (!out || !path) {
		seterr(err, errlen, "tw_pcap_open: no path");
		return -1;
	}
	*out = NULL;
	is_stdin = strcmp(path, "-") == 0;
	in = calloc(1, sizeof(*in));
	if (!in) {
		seterr(err, errlen, "%s: out of memory", is_stdin ? "stdin" : path);
		return -1;
	}
	snprintf(in->name, sizeof(in->name), "%s", is_stdin ? "stdin" : path);
	in->gzs.fd = -1;

	/* dup stdin so closing the reader never closes the process's fd 0. */
	fd = is_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		seterr(err, errlen, "%s: %s", in->name, strerror(errno));
		free(in);
		return -1;
	}
	struct stat sb;
	in->size = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
	in->posfd = in->size ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	in->p = open_fd(in, fd, err, errlen);
	if (!in->p) {
		if (in->posfd >= 0)
			close(in->posfd);
		free(in);
		return -1;
	}
	in->dlt = pcap_datalink(in->p);
	if (!link_supported(in->dlt)) {
		lname = pcap_datalink_val_to_name(in->dlt);
		seterr(err, errlen, "%s: unsupported link type %d (%s)", in->name, in->dlt, lname ? lname : "unknown");
		pcap_close(in->p);
		if (in->posfd >= 0)
			close(in->posfd);
		free(in);
		return -1;
	}
	*out = in;
	return 0;
}

int tw_pcap_progress(const struct tw_pcap_in *in, uint64_t *pos, uint64_t *size)
{
	off_t o = in->posfd >= 0 ? lseek(in->posfd, 0, SEEK_CUR) : -1;
	*pos = o > 0 ? (uint64_t)o : 0;
	*size = in->size;
	return o >= 0 && in->size > 0;
}

static uint64_t ts_to_ns(const struct timeval *tv)
{
	/* With PCAP_TSTAMP_PRECISION_NANO libpcap puts nanoseconds in tv_usec.
       Classic pcap stores 32-bit unsigned seconds that libpcap sign-extends:
       undo that; anything else negative or absurd saturates. */
	int64_t sec = tv->tv_sec;
	uint64_t s, frac = (uint64_t)(uint32_t)tv->tv_usec;

	if (sec < 0)
		sec = sec >= INT32_MIN ? (int64_t)(uint32_t)sec : 0;
	s = (uint64_t)sec;
	if (s > (UINT64_MAX - 999999999u) / 1000000000u)
		return UINT64_MAX;
	if (frac > 999999999u)
		frac = 999999999u;
	return s * 1000000000u + frac;
}

/* Link header length and the ethertype to synthesize, for one record.
   Returns 1 with hlen and etype set (etype < 0: frame is Ethernet already),
   0 if the record is too short for its link header, -1 if its L3 has no
   Ethernet form. */
static int classify(int dlt, const uint8_t *d, uint32_t cap, uint32_t *hlen, int *etype)
{
	uint32_t fam;
	uint16_t proto;

	switch (dlt) {
	case LT_EN10MB:
		*hlen = 0;
		*etype = -1;
		return cap >= ETH_HLEN_;
	case LT_SLL:
	case LT_SLL2:
		*hlen = dlt == LT_SLL ? SLL_HLEN : SLL2_HLEN;
		if (cap < *hlen)
			return 0;
		proto = dlt == LT_SLL ? (uint16_t)(d[14] << 8 | d[15]) : (uint16_t)(d[0] << 8 | d[1]);
		/* Below 0x0600 the field is a Linux pseudo-protocol, not an ethertype. */
		if (proto < 0x0600)
			return -1;
		*etype = proto;
		return 1;
	case LT_NULL:
	case LT_LOOP:
		*hlen = LOOP_HLEN;
		if (cap < LOOP_HLEN)
			return 0;
		if (dlt == LT_LOOP) {
			fam = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
		} else {
			/* Host order of the writer, which may not be ours: a family is
               small, so a value with high bits set was written swapped. */
			memcpy(&fam, d, sizeof(fam));
			if (fam & 0xFFFF0000u)
				fam = __builtin_bswap32(fam);
		}
		if (fam == 2)
			*etype = 0x0800;
		else if (fam == 24 || fam == 28 || fam == 30)
			*etype = 0x86DD;
		else
			return -1;
		return 1;
	default: /* raw IP: LT_RAW_A, LT_RAW_B, LT_RAW, LT_IPV4, LT_IPV6 */
		*hlen = 0;
		if (cap < 1)
			return 0;
		if (d[0] >> 4 == 4)
			*etype = 0x0800;
		else if (d[0] >> 4 == 6)
			*etype = 0x86DD;
		else
			return -1;
		return 1;
	}
}

/* Build the Ethernet frame for one record in in->buf.  Returns 1, or 0 if
   the record is skipped (and counted). */
static int to_frame(struct tw_pcap_in *in, const struct pcap_pkthdr *h, const uint8_t *d, struct tw_frame *f)
{
	uint32_t cap = h->caplen, hlen = 0, room, n;
	uint64_t olen;
	int etype = -1, c;

	c = classify(in->dlt, d, cap, &hlen, &etype);
	if (c == 0) {
		in->st.skipped_truncated_l2++;
		return 0;
	}
	if (c < 0) {
		in->st.skipped_unsupported_l3++;
		return 0;
	}
	if (etype < 0) {
		n = cap;
		olen = h->len;
		room = TW_PCAP_MAX_FRAME;
		if (n > room)
			n = room;
		/* already Ethernet: hand out libpcap's own buffer (valid until the
           next read, as promised) instead of copying every frame */
		f->data = d;
		f->caplen = n;
		if (cap > room)
			in->st.clipped_frames++;
	} else {
		/* Zero MACs and the ethertype replace the link header (hlen <= cap). */
		room = TW_PCAP_MAX_FRAME - ETH_HLEN_;
		n = cap - hlen;
		if (n > room) {
			n = room;
			in->st.clipped_frames++;
		}
		memset(in->buf, 0, 12);
		in->buf[12] = (uint8_t)(etype >> 8);
		in->buf[13] = (uint8_t)etype;
		memcpy(in->buf + ETH_HLEN_, d + hlen, n);
		f->caplen = ETH_HLEN_ + n;
		olen = (h->len > hlen ? (uint64_t)h->len - hlen : 0) + ETH_HLEN_;
	}
	if (olen > UINT32_MAX)
		olen = UINT32_MAX;
	f->origlen = olen < f->caplen ? f->caplen : (uint32_t)olen;
	if (etype >= 0)
		f->data = in->buf;
	return 1;
}

static int fault(struct tw_pcap_in *in, char *err, size_t errlen, const char *pcap_msg)
{
	unsigned long long rec = (unsigned long long)in->st.records;

	if (in->via_gz && in->gzs.failed)
		snprintf(in->fault, sizeof(in->fault), "%s: packet %llu: gzip stream %s after %llu packets (zlib: %s)",
		         in->name, rec + 1, gz_what(&in->gzs), rec, in->gzs.zmsg);
	else
		snprintf(in->fault, sizeof(in->fault), "%s: packet %llu: %s", in->name, rec + 1,
		         pcap_msg && *pcap_msg ? pcap_msg : "read error");
	in->state = ST_FAULT;
	in->st.read_errors = 1;
	seterr(err, errlen, "%s", in->fault);
	return -1;
}

int tw_pcap_next(struct tw_pcap_in *in, struct tw_frame *f, char *err, size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t ts;
	int rc;

	if (!in || !f) {
		seterr(err, errlen, "tw_pcap_next: no reader");
		return -1;
	}
	if (in->state == ST_EOF)
		return 0;
	if (in->state == ST_FAULT) {
		seterr(err, errlen, "%s", in->fault);
		return -1;
	}
	/* One record per iteration; ends with the file (or at the first fault),
	   or when the stop flag is set: skipped records are no reason to go on */
	for (;;) {
		if (stopping()) {
			in->state = ST_EOF;
			return 0;
		}
		rc = pcap_next_ex(in->p, &h, &d);
		if (in->gzs.stopped) { /* a signal ended the wait for input: a clean stop */
			in->state = ST_EOF;
			return 0;
		}
		if (rc == PCAP_ERROR_BREAK) {
			/* Defensive: a zlib failure must never read as a clean end. */
			if (in->via_gz && in->gzs.failed)
				return fault(in, err, errlen, NULL);
			in->state = ST_EOF;
			return 0;
		}
		if (rc != 1)
			return fault(in, err, errlen,
			             rc == PCAP_ERROR ? pcap_geterr(in->p) : "unexpected libpcap result");
		in->st.records++;
		ts = ts_to_ns(&h->ts);
		if (in->st.records > 1 && ts < in->last_ts)
			in->st.out_of_order++;
		in->last_ts = ts;
		if (!to_frame(in, h, d, f))
			continue;
		f->ts_ns = ts;
		in->st.packets++;
		return 1;
	}
}

const struct tw_pcap_stats *tw_pcap_stats(const struct tw_pcap_in *in)
{
	return &in->st;
}

int tw_pcap_linktype(const struct tw_pcap_in *in)
{
	return in->dlt;
}

int tw_pcap_is_gzip(const struct tw_pcap_in *in)
{
	return in->is_gzip;
}

void tw_pcap_close(struct tw_pcap_in *in)
{
	if (!in)
		return;
	if (in->p)
		pcap_close(in->p); /* fcloses the FILE*, and through the cookie the gzFile */
	if (in->posfd >= 0)
		close(in->posfd);
	free(in);
}
