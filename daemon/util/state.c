#include "util/state.h"
#include "util/fdio.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define HDR 32
static const char magic[8] = "TWSTATE";
#define MAX_RAW (1ull << 30)

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int tw_state_save(const char *dir, const char *name, const void *data, size_t len, char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	uLongf clen = compressBound(len);
	uint8_t *buf = malloc(HDR + clen);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (compress2(buf + HDR, &clen, data, len, 6) != Z_OK) {
		free(buf);
		snprintf(err, errlen, "%s: compression failed", path);
		return -1;
	}
	memcpy(buf, magic, 8);
	put32(buf + 8, TW_STATE_VERSION);
	put32(buf + 12, (uint32_t)crc32(0, data, len));
	put64(buf + 16, len);
	put64(buf + 24, clen);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || tw_write_full(fd, buf, HDR + clen) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		free(buf);
		return -1;
	}
	free(buf);
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int tw_state_set_aside(const char *path, char *aside, size_t cap)
{
	long long now = (long long)time(NULL);
	snprintf(aside, cap, "%s.corrupt-%lld", path, now);
	for (int i = 1; access(aside, F_OK) == 0 && i < 1000; i++)
		snprintf(aside, cap, "%s.corrupt-%lld-%d", path, now, i);
	return rename(path, aside);
}

static int corrupt(const char *path, const char *why, char *err, size_t errlen)
{
	char aside[4200];
	if (tw_state_set_aside(path, aside, sizeof(aside)) < 0) {
		snprintf(err, errlen, "%s: %s, and it cannot be moved aside: %s", path, why, strerror(errno));
		return TW_STATE_UNREADABLE;
	}
	snprintf(err, errlen, "%s: %s; moved aside to %s, starting with empty state", path, why, aside);
	return TW_STATE_CORRUPT;
}

static int unreadable(const char *path, int e, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: cannot read the state file: %s", path, strerror(e));
	return TW_STATE_UNREADABLE;
}

/* A save cut short by a crash leaves NAME.tmp.PID behind (never the file
 * itself: see tw_state_save).  Removed once that process is gone. */
static void remove_stale_tmp(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = strlen(name);
	while (d && (e = readdir(d))) {
		char *end;
		if (strncmp(e->d_name, name, n) || strncmp(e->d_name + n, ".tmp.", 5))
			continue;
		long pid = strtol(e->d_name + n + 5, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

int tw_state_load(const char *dir, const char *name, void **data, size_t *len, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*data = NULL;
	*len = 0;
	remove_stale_tmp(dir, name);
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		if (errno == ENOENT)
			return TW_STATE_NONE;
		return unreadable(path, errno, err, errlen);
	}
	uint8_t h[HDR];
	if (fread(h, 1, HDR, fp) != HDR) {
		int e = ferror(fp) ? errno : 0;
		fclose(fp);
		return e ? unreadable(path, e, err, errlen) : corrupt(path, "truncated header", err, errlen);
	}
	if (memcmp(h, magic, 8)) {
		fclose(fp);
		return corrupt(path, "not a tamperwatch state file", err, errlen);
	}
	if (get32(h + 8) != TW_STATE_VERSION) {
		fclose(fp);
		return corrupt(path, "unsupported state version", err, errlen);
	}
	/* the header is checked against the file before anything is allocated
	 * from it: the compressed length must be what is on disk, the raw length
	 * no more than zlib can expand it to (1032:1) */
	uint64_t raw = get64(h + 16), clen = get64(h + 24);
	struct stat st;
	if (fstat(fileno(fp), &st) < 0) {
		int e = errno;
		fclose(fp);
		return unreadable(path, e, err, errlen);
	}
	uint64_t have = (uint64_t)st.st_size - HDR;
	const char *bad = NULL;
	if (raw > MAX_RAW || clen > MAX_RAW || raw > clen * 1032 + 64)
		bad = "implausible lengths";
	else if (have != clen)
		bad = have < clen ? "truncated" : "trailing data";
	if (bad) {
		fclose(fp);
		return corrupt(path, bad, err, errlen);
	}
	uint8_t *cbuf = malloc(clen + 1), *out = malloc(raw + 1);
	if (!cbuf || !out) {
		free(cbuf);
		free(out);
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory for %llu bytes of state", path, (unsigned long long)raw);
		return TW_STATE_UNREADABLE;
	}
	size_t got = fread(cbuf, 1, clen + 1, fp);
	int rerr = ferror(fp) ? errno : 0;
	fclose(fp);
	if (rerr) {
		free(cbuf);
		free(out);
		return unreadable(path, rerr, err, errlen);
	}
	uLongf olen = raw;
	const char *why = NULL;
	if (got != clen)
		why = got < clen ? "truncated" : "trailing data";
	else if (uncompress(out, &olen, cbuf, clen) != Z_OK || olen != raw)
		why = "bad compressed data";
	else if ((uint32_t)crc32(0, out, raw) != get32(h + 12))
		why = "checksum mismatch";
	free(cbuf);
	if (why) {
		free(out);
		return corrupt(path, why, err, errlen);
	}
	out[raw] = 0;
	*data = out;
	*len = raw;
	return TW_STATE_LOADED;
}
