/* The kernel-to-kernel baseline of the bulk download benchmark (bench/peer/run.sh): one
 * TCP connection over the same kind of veth as the built-in lab's (offloads off), default
 * socket buffers, a sender writing N bytes and a receiver reading them.
 *
 *   bulk_pair receive PORT [TIMEOUT_S]      accepts one connection, reads to EOF
 *   bulk_pair send ADDRESS PORT BYTES [TIMEOUT_S]
 *
 * The receiver prints, once the sender has closed:
 *   RESULT name=kernel_download bytes=N first_to_last_ns=T goodput_mbit_s=G ...
 * and the sender, once everything it wrote is acknowledged (bounded), before close():
 *   RESULT name=kernel_sender bytes=N write_ns=T total_retrans=R
 * `first_to_last_ns` runs from the first byte read to the last, as the engine's figure runs
 * from the first data segment to the last byte's arrival. Every wait is bounded by
 * TIMEOUT_S (default 60) through SO_RCVTIMEO / SO_SNDTIMEO and alarm(). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static int die(const char* what) {
    fprintf(stderr, "bulk_pair: %s: %s\n", what, strerror(errno));
    return 1;
}

static void bound(int fd, unsigned seconds) {
    struct timeval tv = {(time_t)seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static unsigned total_retrans(int fd) {
    struct tcp_info info;
    socklen_t length = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0)
        return 0;
    return info.tcpi_total_retrans;
}

static int receive(unsigned short port, unsigned timeout) {
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0)
        return die("socket");
    const int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0)
        return die("bind");
    if (listen(listener, 1) != 0)
        return die("listen");
    printf("READY\n");
    fflush(stdout);
    bound(listener, timeout);
    const int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        return die("accept");
    bound(fd, timeout);
    static char buffer[131072];
    uint64_t bytes = 0;
    uint64_t first = 0;
    uint64_t last = 0;
    for (;;) {
        const ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return die("read");
        if (n == 0)
            break;
        last = now_ns();
        if (bytes == 0)
            first = last;
        bytes += (uint64_t)n;
    }
    const uint64_t span = last > first ? last - first : 1;
    printf("RESULT name=kernel_download bytes=%llu first_to_last_ns=%llu goodput_mbit_s=%.1f "
           "receiver_total_retrans=%u\n",
           (unsigned long long)bytes, (unsigned long long)span, (double)bytes * 8e3 / (double)span,
           total_retrans(fd));
    close(fd);
    close(listener);
    return 0;
}

static int send_bytes(const char* host, unsigned short port, unsigned long long count,
                      unsigned timeout) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return die("socket");
    bound(fd, timeout);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "bulk_pair: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0)
        return die("connect");
    static char buffer[131072];
    memset(buffer, 'x', sizeof buffer);
    const uint64_t start = now_ns();
    unsigned long long left = count;
    while (left > 0) {
        const size_t chunk = left < sizeof buffer ? (size_t)left : sizeof buffer;
        const ssize_t n = write(fd, buffer, chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return die("write");
        left -= (unsigned long long)n;
    }
    const uint64_t written = now_ns() - start;
    /* Wait (bounded) until everything is acknowledged, so total_retrans is final. */
    for (int i = 0; i < (int)timeout * 1000; ++i) {
        struct tcp_info info;
        socklen_t length = sizeof info;
        memset(&info, 0, sizeof info);
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 || info.tcpi_unacked == 0)
            break;
        usleep(1000);
    }
    printf("RESULT name=kernel_sender bytes=%llu write_ns=%llu total_retrans=%u\n", count,
           (unsigned long long)written, total_retrans(fd));
    close(fd);
    return 0;
}

int main(int argc, char** argv) {
    if (argc >= 3 && strcmp(argv[1], "receive") == 0) {
        const unsigned timeout = argc >= 4 ? (unsigned)strtoul(argv[3], NULL, 10) : 60;
        alarm(timeout + 5);
        return receive((unsigned short)strtoul(argv[2], NULL, 10), timeout);
    }
    if (argc >= 5 && strcmp(argv[1], "send") == 0) {
        const unsigned timeout = argc >= 6 ? (unsigned)strtoul(argv[5], NULL, 10) : 60;
        alarm(timeout + 5);
        return send_bytes(argv[2], (unsigned short)strtoul(argv[3], NULL, 10),
                          strtoull(argv[4], NULL, 10), timeout);
    }
    fprintf(stderr, "usage: bulk_pair receive PORT [TIMEOUT_S]\n"
                    "       bulk_pair send ADDRESS PORT BYTES [TIMEOUT_S]\n");
    return 2;
}
