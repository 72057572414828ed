/* Shared by the handshake benchmark's contenders (C and C++): one definition of the
 * statistics and of the line run.sh reads, so every figure in its table is computed
 * the same way.
 *
 *   RESULT name=NAME n=N failures=F median_ns=.. p90_ns=.. p99_ns=.. min_ns=.. max_ns=..
 *
 * Percentiles are nearest-rank: the smallest sample with at least p% of the samples at
 * or below it (the median is p50). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int hsr_compare(const void* a, const void* b) {
    const uint64_t x = *(const uint64_t*)a;
    const uint64_t y = *(const uint64_t*)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of `n` > 0 sorted samples. */
static inline uint64_t hsr_percentile(const uint64_t* sorted, size_t n, unsigned p) {
    size_t rank = (p * n + 99) / 100;
    if (rank == 0)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* Sorts `samples` in place and prints the RESULT line (n=0 prints zeros). */
static inline void hsr_print(FILE* out, const char* name, uint64_t* samples, size_t n,
                             size_t failures) {
    if (n == 0) {
        fprintf(out,
                "RESULT name=%s n=0 failures=%zu median_ns=0 p90_ns=0 p99_ns=0 min_ns=0 "
                "max_ns=0\n",
                name, failures);
        return;
    }
    qsort(samples, n, sizeof samples[0], hsr_compare);
    fprintf(out,
            "RESULT name=%s n=%zu failures=%zu median_ns=%llu p90_ns=%llu p99_ns=%llu "
            "min_ns=%llu max_ns=%llu\n",
            name, n, failures, (unsigned long long)hsr_percentile(samples, n, 50),
            (unsigned long long)hsr_percentile(samples, n, 90),
            (unsigned long long)hsr_percentile(samples, n, 99), (unsigned long long)samples[0],
            (unsigned long long)samples[n - 1]);
}
