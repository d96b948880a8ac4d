/* Unit tests of the client pseudonyms (pseudonym.c): deterministic per key,
 * different across keys, prefix kept and host bits changed for IPv4 and
 * IPv6 at several prefix lengths, a permutation within a prefix (two
 * clients never share a pseudonym), no host bits at /32, and the key file
 * in the state directory (created 0600, reused, a corrupt one set aside). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tamperwatch/flow.h>
#include "outputs/pseudonym.h"

#include "check.h"

static uint8_t K1[32], K2[32];

static int prefix_equal(const uint8_t *a, const uint8_t *b, int plen)
{
	for (int i = 0; i < plen; i++) {
		int m = 0x80 >> (i % 8);
		if ((a[i / 8] & m) != (b[i / 8] & m))
			return 0;
	}
	return 1;
}

static void props(int family, int plen)
{
	int bytes = family == TW_FAMILY_IPV6 ? 16 : 4;
	struct tw_pseudonym a, b;
	tw_pseudonym_init_key(&a, K1, family == 4 ? plen : 48, family == 6 ? plen : 24);
	tw_pseudonym_init_key(&b, K2, family == 4 ? plen : 48, family == 6 ? plen : 24);
	int differ_keys = 0;
	for (int n = 0; n < 64; n++) {
		uint8_t addr[16], o1[16], o2[16], o3[16];
		for (int i = 0; i < bytes; i++)
			addr[i] = (uint8_t)(n * 37 + i * 101 + 7);
		tw_pseudonym_addr(&a, family, addr, o1);
		tw_pseudonym_addr(&a, family, addr, o2);
		tw_pseudonym_addr(&b, family, addr, o3);
		CHECK(!memcmp(o1, o2, (size_t)bytes), "v%d/%d: same key, same input, different output", family, plen);
		CHECK(prefix_equal(o1, addr, plen), "v%d/%d: prefix not kept", family, plen);
		CHECK(prefix_equal(o3, addr, plen), "v%d/%d: prefix not kept (key 2)", family, plen);
		CHECK(memcmp(o1, addr, (size_t)bytes) != 0, "v%d/%d: pseudonym equals the address", family, plen);
		differ_keys += memcmp(o1, o3, (size_t)bytes) != 0;
		/* in place */
		uint8_t ip[16];
		memcpy(ip, addr, 16);
		tw_pseudonym_addr(&a, family, ip, ip);
		CHECK(!memcmp(ip, o1, (size_t)bytes), "v%d/%d: in-place result differs", family, plen);
	}
	/* with one host bit the only non-identity permutation is the swap: the
	 * keys cannot differ; from 8 host bits on, nearly every address must */
	int host = bytes * 8 - plen;
	if (host >= 8)
		CHECK(differ_keys >= 60, "v%d/%d: only %d of 64 pseudonyms differ between keys", family, plen,
		      differ_keys);
}

/* every host value of a small prefix maps to a distinct one */
static void permutation(int plen)
{
	struct tw_pseudonym p;
	tw_pseudonym_init_key(&p, K1, plen, 48);
	int n = 1 << (32 - plen);
	uint8_t *seen = calloc((size_t)n, 1);
	int dup = 0, fixed = 0;
	for (int h = 0; h < n; h++) {
		uint8_t a[4] = { 10, 1, (uint8_t)(h >> 8), (uint8_t)h }, o[4];
		if (plen < 24)
			a[2] = (uint8_t)(h >> 8);
		tw_pseudonym_addr(&p, TW_FAMILY_IPV4, a, o);
		int v = ((o[2] << 8) | o[3]) & (n - 1);
		dup += seen[v]++ != 0;
		fixed += !memcmp(a, o, 4);
	}
	CHECK(dup == 0, "/%d: %d host values share a pseudonym", plen, dup);
	CHECK(fixed == 0, "/%d: %d addresses map to themselves", plen, fixed);
	free(seen);
}

static void key_file(void)
{
	char dir[] = "/tmp/tw-pnym.XXXXXX", path[256], err[512];
	struct tw_pseudonym p1, p2, p3, p4;
	struct stat sb;
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	CHECK(tw_pseudonym_init(&p1, dir, 24, 48, err, sizeof(err)) == 0, "init: %s", err);
	snprintf(path, sizeof(path), "%s/%s", dir, TW_PSEUDONYM_FILE);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "key file missing or not 0600");
	CHECK(p1.persistent, "key from a state dir is persistent");
	CHECK(tw_pseudonym_init(&p2, dir, 24, 48, err, sizeof(err)) == 0, "reload: %s", err);
	CHECK(!memcmp(p1.key, p2.key, 32), "second start made a new key");
	/* a corrupt key file is set aside and replaced */
	FILE *f = fopen(path, "w");
	fputs("garbage", f);
	fclose(f);
	CHECK(tw_pseudonym_init(&p3, dir, 24, 48, err, sizeof(err)) == 0, "after corruption: %s", err);
	CHECK(memcmp(p1.key, p3.key, 32) != 0, "corrupt key file: expected a new key");
	int aside = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		aside += strstr(de->d_name, "pseudonym.key.corrupt-") != NULL;
	if (d)
		closedir(d);
	CHECK(aside == 1, "corrupt key file not set aside (%d)", aside);
	/* no state dir: a key for this run, different each time */
	CHECK(tw_pseudonym_init(&p4, NULL, 24, 48, err, sizeof(err)) == 0 && !p4.persistent, "per-run key");
	CHECK(memcmp(p4.key, p3.key, 32) != 0, "per-run key equals the stored one");
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
	for (int i = 0; i < 32; i++) {
		K1[i] = (uint8_t)(i * 7 + 1);
		K2[i] = (uint8_t)(i * 13 + 5);
	}
	int v4[] = { 0, 8, 16, 20, 24, 28, 31 };
	for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
		props(TW_FAMILY_IPV4, v4[i]);
	int v6[] = { 0, 32, 48, 56, 64, 96, 120, 127 };
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		props(TW_FAMILY_IPV6, v6[i]);
	permutation(24);
	permutation(20);
	permutation(30);
	/* no host bits: the configured prefix is the whole address */
	struct tw_pseudonym p;
	uint8_t a[4] = { 198, 51, 100, 7 }, o[4];
	tw_pseudonym_init_key(&p, K1, 32, 128);
	tw_pseudonym_addr(&p, TW_FAMILY_IPV4, a, o);
	CHECK(!memcmp(a, o, 4), "/32 must keep the address");
	key_file();
	printf("test_pseudonym: %d checks, %d failed\n", checks, fails);
	return fails ? 1 : 0;
}
