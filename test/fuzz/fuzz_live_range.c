/* libFuzzer target: the Range header of a resume (live_range.c). A value
 * taken as a resume starts past 0, its Content-Range fits, and the range
 * it names reads back as the same resume. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "live_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t first = 0;
    if (!live_range_resume((const char *)data, size, &first)) return 0;
    assert(first > 0 && first <= UINT64_MAX - LIVE_RANGE_SPAN);
    char value[LIVE_RANGE_VALUE_MAX];
    const int n = live_range_content_range(value, sizeof(value), first);
    assert(n > 0 && (size_t)n < sizeof(value));
    char again[LIVE_RANGE_VALUE_MAX];
    const int m = snprintf(again, sizeof(again), "bytes=%.*s-", (int)strcspn(value + 6, "-"),
                           value + 6);
    uint64_t back = 0;
    assert(m > 0 && live_range_resume(again, (size_t)m, &back) == 1 && back == first);
    return 0;
}
