/* The unit tests' check macro: counts checks and failures, prints each
 * failure with its condition and a message, never stops the test. */
#ifndef TW_TEST_CHECK_H
#define TW_TEST_CHECK_H
#include <stdio.h>

static int fails, checks;
#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		checks++;                                                                                              \
		if (!(cond)) {                                                                                         \
			fails++;                                                                                       \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                         \
			printf(__VA_ARGS__);                                                                           \
			printf("\n");                                                                                  \
		}                                                                                                      \
	} while (0)
#endif
