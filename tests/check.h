/* CHECK(cond, fmt, ...): count a check, print the failed ones; main
 * returns fails ? 1 : 0.  For the unit tests. */
#ifndef TW_TESTS_CHECK_H
#define TW_TESTS_CHECK_H
#include <stdio.h>

static int fails, checks;
#define CHECK(cond, ...)                                                   \
	do {                                                                   \
		checks++;                                                          \
		if (!(cond)) {                                                     \
			fails++;                                                       \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
			printf(__VA_ARGS__);                                           \
			printf("\n");                                                  \
		}                                                                  \
	} while (0)
#endif
