/* Contender (a) of the handshake benchmark: the least a program can do to open a TCP
 * handshake from a phantom address with libpcap. Immediate mode, snapshot length 256,
 * a filter for TCP to the phantom's MAC; each iteration crafts a SYN by hand (both
 * checksums), pcap_inject()s it, loops on pcap_next_ex() (non-blocking, with poll()
 * when nothing waits) until the matching SYN-ACK (bounded), then sends a RST
 * (seq = ISS + 1) so the peer forgets the connection.
 *
 * Times, with clock_gettime(CLOCK_MONOTONIC):
 *   a_full        before pcap_inject(SYN)  -> the SYN-ACK in hand
 *   a_after_send  after pcap_inject(SYN)   -> the SYN-ACK in hand (the engine's definition)
 *   a_turnaround  the SYN-ACK in hand      -> after pcap_inject(RST)
 * printed as RESULT lines (handshake_result.h). The peer must know the phantom's MAC
 * (run.sh adds a permanent neighbour entry): nothing here answers ARP.
 *
 * Exit status: 0 when it measured something with at most --max-failures iterations
 * without a SYN-ACK (the RESULT lines count them), 1 otherwise or when a step failed
 * (the message says which), 2 on bad arguments. */
#define _GNU_SOURCE
#include "handshake_result.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct config {
    const char* iface;
    uint8_t phantom_mac[6];
    uint8_t peer_mac[6];
    struct in_addr phantom_ip;
    struct in_addr peer_ip;
    unsigned dport;
    unsigned sport_base;
    unsigned count;
    unsigned warmup;
    unsigned timeout_ms; /* per iteration */
    unsigned budget_s;   /* whole run */
    unsigned max_failures;
};

enum { kFrameLength = 14 + 20 + 20, kIss = 100 };
enum { kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10 };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t* p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t* p, uint32_t v) {
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}
static uint16_t get16(const uint8_t* p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t* p) {
    return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071: the ones' complement sum of 16-bit words, folded. */
static uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}
static uint16_t fold(uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Ethernet + IPv4 (DF, TTL 64) + a 20-byte TCP header, checksums computed. */
static void build_segment(uint8_t* f, const struct config* c, uint16_t sport, uint32_t seq,
                          uint32_t ack, uint8_t flags, uint16_t ip_id) {
    memcpy(f, c->peer_mac, 6);
    memcpy(f + 6, c->phantom_mac, 6);
    put16(f + 12, 0x0800);

    uint8_t* ip = f + 14;
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, 40);
    put16(ip + 4, ip_id);
    put16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = 6;
    put16(ip + 10, 0);
    memcpy(ip + 12, &c->phantom_ip, 4);
    memcpy(ip + 16, &c->peer_ip, 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));

    uint8_t* tcp = ip + 20;
    put16(tcp, sport);
    put16(tcp + 2, (uint16_t)c->dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    put16(tcp + 16, 0);
    put16(tcp + 18, 0);
    /* Pseudo-header: source, destination, zero, protocol, TCP length. */
    uint32_t sum = sum16(ip + 12, 8, 0) + 6 + 20;
    put16(tcp + 16, fold(sum16(tcp, 20, sum)));
}

/* The SYN-ACK of this iteration: from peer:dport to phantom:sport, SYN and ACK set,
 * acknowledging ISS + 1. */
static int is_syn_ack(const uint8_t* f, size_t len, const struct config* c, uint16_t sport) {
    if (len < 14 + 20 + 20 || get16(f + 12) != 0x0800)
        return 0;
    const uint8_t* ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 || len < 14 + ihl + 20)
        return 0;
    if (memcmp(ip + 12, &c->peer_ip, 4) != 0 || memcmp(ip + 16, &c->phantom_ip, 4) != 0)
        return 0;
    const uint8_t* tcp = ip + ihl;
    return get16(tcp) == c->dport && get16(tcp + 2) == sport &&
           (tcp[13] & (kSyn | kAck | kRst | kFin)) == (kSyn | kAck) &&
           get32(tcp + 8) == (uint32_t)(kIss + 1);
}

static int parse_mac(const char* text, uint8_t mac[6]) {
    unsigned v[6];
    char tail;
    if (sscanf(text, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
        return 0;
    for (int i = 0; i < 6; ++i) {
        if (v[i] > 0xff)
            return 0;
        mac[i] = (uint8_t)v[i];
    }
    return 1;
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
    fprintf(out,
            "usage: pcap_handshake --iface IF --phantom-mac MAC --phantom-ip IP --peer-mac MAC\n"
            "                      --peer-ip IP [--dport 50001] [--sport-base 50000]\n"
            "                      [--count 2000] [--warmup 20] [--timeout-ms 1000]\n"
            "                      [--budget-s 60] [--max-failures 10]\n");
}

static int parse_args(int argc, char** argv, struct config* c) {
    static const struct option options[] = {
        {"iface", required_argument, NULL, 'i'},
        {"phantom-mac", required_argument, NULL, 'm'},
        {"phantom-ip", required_argument, NULL, 'p'},
        {"peer-mac", required_argument, NULL, 'M'},
        {"peer-ip", required_argument, NULL, 'P'},
        {"dport", required_argument, NULL, 'd'},
        {"sport-base", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"budget-s", required_argument, NULL, 'b'},
        {"max-failures", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int have = 0;
    int opt;
    int which = -1;
    while ((opt = getopt_long(argc, argv, "", options, &which)) != -1) {
        int ok = 1;
        switch (opt) {
        case 'i':
            c->iface = optarg;
            have |= 1;
            break;
        case 'm':
            ok = parse_mac(optarg, c->phantom_mac);
            have |= 2;
            break;
        case 'p':
            ok = inet_pton(AF_INET, optarg, &c->phantom_ip) == 1;
            have |= 4;
            break;
        case 'M':
            ok = parse_mac(optarg, c->peer_mac);
            have |= 8;
            break;
        case 'P':
            ok = inet_pton(AF_INET, optarg, &c->peer_ip) == 1;
            have |= 16;
            break;
        case 'd':
            ok = parse_unsigned(optarg, 65535, &c->dport);
            break;
        case 's':
            ok = parse_unsigned(optarg, 65535, &c->sport_base);
            break;
        case 'n':
            ok = parse_unsigned(optarg, 1000000, &c->count);
            break;
        case 'w':
            ok = parse_unsigned(optarg, 10000, &c->warmup);
            break;
        case 't':
            ok = parse_unsigned(optarg, 60000, &c->timeout_ms);
            break;
        case 'b':
            ok = parse_unsigned(optarg, 3600, &c->budget_s);
            break;
        case 'f':
            ok = parse_unsigned(optarg, 1000000, &c->max_failures);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return 0;
        }
        if (!ok) {
            fprintf(stderr, "pcap_handshake: bad value for --%s: '%s'\n",
                    which >= 0 ? options[which].name : "?", optarg);
            usage(stderr);
            return 0;
        }
    }
    if (have != 31 || optind != argc) {
        fprintf(stderr, "pcap_handshake: --iface, --phantom-mac, --phantom-ip, --peer-mac and "
                        "--peer-ip are required\n");
        usage(stderr);
        return 0;
    }
    if (c->count == 0 || c->sport_base + c->warmup + c->count - 1 > 65535) {
        fprintf(stderr, "pcap_handshake: --count must be > 0 and sport-base + warmup + count - 1 "
                        "must fit in a port (<= 65535)\n");
        return 0;
    }
    return 1;
}

static pcap_t* open_capture(const struct config* c) {
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(c->iface, errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_handshake: pcap_create(%s): %s\n", c->iface, errbuf);
        return NULL;
    }
    if (pcap_set_snaplen(p, 256) != 0 || pcap_set_promisc(p, 1) != 0 ||
        pcap_set_immediate_mode(p, 1) != 0 || pcap_set_timeout(p, 50) != 0) {
        fprintf(stderr, "pcap_handshake: setting up %s: %s\n", c->iface, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    int rc = pcap_activate(p);
    if (rc < 0) {
        fprintf(stderr, "pcap_handshake: pcap_activate(%s): %s (%s)\n", c->iface,
                pcap_statustostr(rc), pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    char filter[128];
    snprintf(filter, sizeof filter, "tcp and ether dst %02x:%02x:%02x:%02x:%02x:%02x",
             c->phantom_mac[0], c->phantom_mac[1], c->phantom_mac[2], c->phantom_mac[3],
             c->phantom_mac[4], c->phantom_mac[5]);
    struct bpf_program program;
    if (pcap_compile(p, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        pcap_setfilter(p, &program) != 0) {
        fprintf(stderr, "pcap_handshake: filter '%s': %s\n", filter, pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    pcap_freecode(&program);
    if (pcap_setdirection(p, PCAP_D_IN) != 0) {
        fprintf(stderr, "pcap_handshake: pcap_setdirection(in): %s\n", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    /* Non-blocking, with our own poll(): on Linux a blocking pcap_next_ex() in immediate
     * mode keeps polling past its timeout until a frame comes, so it cannot bound a wait. */
    if (pcap_setnonblock(p, 1, errbuf) != 0 || pcap_get_selectable_fd(p) < 0) {
        fprintf(stderr, "pcap_handshake: non-blocking mode on %s: %s\n", c->iface, errbuf);
        pcap_close(p);
        return NULL;
    }
    return p;
}

int main(int argc, char** argv) {
    struct config c = {.dport = 50001,
                       .sport_base = 50000,
                       .count = 2000,
                       .warmup = 20,
                       .timeout_ms = 1000,
                       .budget_s = 60,
                       .max_failures = 10};
    if (!parse_args(argc, argv, &c))
        return 2;
    pcap_t* p = open_capture(&c);
    if (p == NULL)
        return 1;
    const int fd = pcap_get_selectable_fd(p);

    uint64_t* full = calloc(c.count, sizeof *full);
    uint64_t* after_send = calloc(c.count, sizeof *after_send);
    uint64_t* turnaround = calloc(c.count, sizeof *turnaround);
    if (full == NULL || after_send == NULL || turnaround == NULL) {
        fprintf(stderr, "pcap_handshake: out of memory\n");
        return 1;
    }
    size_t measured = 0;
    size_t failures = 0;
    int fatal = 0;
    const uint64_t run_deadline = now_ns() + (uint64_t)c.budget_s * 1000000000u;
    uint8_t frame[kFrameLength];
    unsigned i = 0;
    for (; i < c.warmup + c.count && !fatal; ++i) {
        if (now_ns() > run_deadline) {
            fprintf(stderr, "pcap_handshake: time budget of %u s spent after %u iterations\n",
                    c.budget_s, i);
            break;
        }
        const uint16_t sport = (uint16_t)(c.sport_base + i);
        build_segment(frame, &c, sport, kIss, 0, kSyn, (uint16_t)(2 * i));
        const uint64_t t0 = now_ns();
        if (pcap_inject(p, frame, sizeof frame) != (int)sizeof frame) {
            fprintf(stderr, "pcap_handshake: pcap_inject(SYN): %s\n", pcap_geterr(p));
            fatal = 1;
            break;
        }
        const uint64_t t1 = now_ns();
        const uint64_t deadline = t1 + (uint64_t)c.timeout_ms * 1000000u;
        uint64_t t2 = 0;
        for (;;) {
            struct pcap_pkthdr* header = NULL;
            const u_char* data = NULL;
            int rc = pcap_next_ex(p, &header, &data);
            if (rc == 1 && is_syn_ack(data, header->caplen, &c, sport)) {
                t2 = now_ns();
                break;
            }
            if (rc < 0) {
                fprintf(stderr, "pcap_handshake: pcap_next_ex: %s\n", pcap_geterr(p));
                fatal = 1;
                break;
            }
            const uint64_t now = now_ns();
            if (now > deadline)
                break;
            if (rc == 0) {
                /* Nothing waiting: sleep in poll() until a frame or the deadline. */
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR) {
                    fprintf(stderr, "pcap_handshake: poll: %s\n", strerror(errno));
                    fatal = 1;
                    break;
                }
            }
        }
        if (fatal)
            break;
        /* RST in any case: if the SYN-ACK comes late, the peer still forgets. */
        build_segment(frame, &c, sport, kIss + 1, 0, kRst, (uint16_t)(2 * i + 1));
        if (pcap_inject(p, frame, sizeof frame) != (int)sizeof frame) {
            fprintf(stderr, "pcap_handshake: pcap_inject(RST): %s\n", pcap_geterr(p));
            fatal = 1;
            break;
        }
        const uint64_t t3 = now_ns();
        if (i < c.warmup)
            continue;
        if (t2 == 0) {
            ++failures;
            fprintf(stderr, "pcap_handshake: no SYN-ACK for source port %u within %u ms\n", sport,
                    c.timeout_ms);
            if (failures > c.max_failures) {
                fprintf(stderr, "pcap_handshake: more than %u failures: giving up\n",
                        c.max_failures);
                fatal = 1;
            }
            continue;
        }
        full[measured] = t2 - t0;
        after_send[measured] = t2 - t1;
        turnaround[measured] = t3 - t2;
        ++measured;
    }
    pcap_close(p);
    hsr_print(stdout, "a_full", full, measured, failures);
    hsr_print(stdout, "a_after_send", after_send, measured, failures);
    hsr_print(stdout, "a_turnaround", turnaround, measured, failures);
    free(full);
    free(after_send);
    free(turnaround);
    return fatal || measured == 0 ? 1 : 0;
}
