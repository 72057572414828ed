/* Contender (b) of the handshake benchmark: the kernel's own handshake. Each iteration
 * times socket() + a blocking connect() to completion (the SYN-ACK processed and our ACK
 * sent), then closes with SO_LINGER 0 (a RST: no TIME-WAIT, the peer forgets).
 *
 * run.sh runs it in the phantom's namespace while the phantom-side veth end has a
 * temporary kernel address (never the phantom's own). setsockopt(SO_SNDTIMEO), which
 * bounds connect(), is not timed: the figure is socket() plus connect().
 *
 *   b_connect   socket() + connect(), CLOCK_MONOTONIC
 *
 * Exit status: 0 when it measured something with at most --max-failures failed
 * connect()s (the RESULT line counts them), 1 otherwise, 2 on bad arguments. */
#define _GNU_SOURCE
#include "handshake_result.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_unsigned(const char* text, unsigned max, unsigned* out) {
    char* end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || v > max)
        return 0;
    *out = (unsigned)v;
    return 1;
}

static void usage(FILE* out) {
    fprintf(out, "usage: kernel_connect --peer-ip IP [--dport 50001] [--count 2000] [--warmup 20]\n"
                 "                      [--timeout-ms 1000] [--budget-s 60] [--max-failures 10]\n");
}

int main(int argc, char** argv) {
    static const struct option options[] = {
        {"peer-ip", required_argument, NULL, 'P'},
        {"dport", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"budget-s", required_argument, NULL, 'b'},
        {"max-failures", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sockaddr_in peer = {.sin_family = AF_INET};
    unsigned dport = 50001, count = 2000, warmup = 20, timeout_ms = 1000, budget_s = 60,
             max_failures = 10;
    int have_peer = 0;
    int opt;
    int which = -1;
    while ((opt = getopt_long(argc, argv, "", options, &which)) != -1) {
        int ok = 1;
        switch (opt) {
        case 'P':
            ok = inet_pton(AF_INET, optarg, &peer.sin_addr) == 1;
            have_peer = 1;
            break;
        case 'd':
            ok = parse_unsigned(optarg, 65535, &dport);
            break;
        case 'n':
            ok = parse_unsigned(optarg, 1000000, &count);
            break;
        case 'w':
            ok = parse_unsigned(optarg, 10000, &warmup);
            break;
        case 't':
            ok = parse_unsigned(optarg, 60000, &timeout_ms);
            break;
        case 'b':
            ok = parse_unsigned(optarg, 3600, &budget_s);
            break;
        case 'f':
            ok = parse_unsigned(optarg, 1000000, &max_failures);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "kernel_connect: bad value for --%s: '%s'\n",
                    which >= 0 ? options[which].name : "?", optarg);
            return 2;
        }
    }
    if (!have_peer || optind != argc || count == 0 || timeout_ms == 0) {
        usage(stderr);
        return 2;
    }
    peer.sin_port = htons((uint16_t)dport);

    uint64_t* samples = calloc(count, sizeof *samples);
    if (samples == NULL) {
        fprintf(stderr, "kernel_connect: out of memory\n");
        return 1;
    }
    const struct timeval limit = {.tv_sec = timeout_ms / 1000,
                                  .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
    const struct linger abort_on_close = {.l_onoff = 1, .l_linger = 0};
    size_t measured = 0;
    size_t failures = 0;
    int fatal = 0;
    const uint64_t run_deadline = now_ns() + (uint64_t)budget_s * 1000000000u;
    for (unsigned i = 0; i < warmup + count && !fatal; ++i) {
        if (now_ns() > run_deadline) {
            fprintf(stderr, "kernel_connect: time budget of %u s spent after %u iterations\n",
                    budget_s, i);
            break;
        }
        const uint64_t t0 = now_ns();
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const uint64_t t1 = now_ns();
        if (fd < 0) {
            fprintf(stderr, "kernel_connect: socket: %s\n", strerror(errno));
            fatal = 1;
            break;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) != 0) {
            fprintf(stderr, "kernel_connect: setsockopt: %s\n", strerror(errno));
            close(fd);
            fatal = 1;
            break;
        }
        const uint64_t t2 = now_ns();
        const int rc = connect(fd, (const struct sockaddr*)&peer, sizeof peer);
        const uint64_t t3 = now_ns();
        const int error = errno;
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "kernel_connect: connect to port %u: %s\n", dport, strerror(error));
            if (i >= warmup && ++failures > max_failures) {
                fprintf(stderr, "kernel_connect: more than %u failures: giving up\n", max_failures);
                fatal = 1;
            }
            continue;
        }
        if (i >= warmup)
            samples[measured++] = (t1 - t0) + (t3 - t2);
    }
    hsr_print(stdout, "b_connect", samples, measured, failures);
    free(samples);
    return fatal || measured == 0 ? 1 : 0;
}
