/*
 * unit.h
 *		A minimal check-and-count harness for the core's unit tests.
 */
#ifndef MONOLITH_UNIT_H
#define MONOLITH_UNIT_H

#include <stdio.h>

static int	unit_passed;
static int	unit_failed;

/* Counts and tells a failed check. */
#define UNIT_FAIL(text, ...) \
	do { \
		unit_failed++; \
		fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, text); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
	} while (0)

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
			UNIT_FAIL(#cond, __VA_ARGS__); \
	} while (0)

/*
 * A check inside a loop, of every turn: a failure is counted and told, a
 * pass is not counted, so that totals do not grow with the turns.
 */
#define EXPECT(cond, ...) \
	do { \
		if (!(cond)) \
			UNIT_FAIL(#cond, __VA_ARGS__); \
	} while (0)

/* Prints the closing line and gives main's exit code. */
static inline int
unit_finish(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

#endif							/* MONOLITH_UNIT_H */
