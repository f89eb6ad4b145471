// inject.c - the traffic source of the kernel reference (Benchmarks/kernel/kernel-ref.sh).
//
// Loads a whole pcap into memory, then sends every frame with AF_PACKET raw sockets into the
// injector ends of two veth pairs whose other ends are the DUT's eth0/eth1: a frame whose
// destination MAC is MAC1 (eth1's address: return traffic) goes out on IF1, every other frame on
// IF0. Only the send loop is measured. Because veth without NAPI hands each frame to netif_rx and
// the softirq runs when send() re-enables bottom halves, the DUT's whole receive path (IP,
// routing, netfilter, TCP/UDP, forwarding and the transmits it causes) runs on this thread's
// CPU and is charged to this thread; what is deferred to ksoftirqd is measured separately.
//
//   usage: inject PCAP IF0 IF1 MAC1 KSOFTIRQD_PID CPU      (REACTIVE=1 in the environment: see below)
//
// Prints one line of key=value pairs:
//   frames sent0 sent1 errors   frames loaded, sent on IF0 / IF1, failed sends
//   self_ns    this thread's sum_exec_runtime (/proc/thread-self/schedstat) over the send loop
//   ru_ns      getrusage user+sys over the send loop (a cross-check of self_ns)
//   ksoft_ns   runtime of ksoftirqd/CPU (KSOFTIRQD_PID) over the send loop
//   netrx      NET_RX softirqs raised on CPU;  softnet_processed/dropped/squeeze: softnet_stat deltas
//   wall_ns    wall time of the send loop
//   synacks flows_fixed segs_fixed   reactive replay counters (0 without REACTIVE=1)
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <fcntl.h>

/* ---- reactive replay (REACTIVE=1) ------------------------------------------------------------
   The capture holds only the client side of TCP sessions to the DUT's own sockets, and the DUT
   chooses its own initial sequence number, so a plain replay acknowledges numbers the DUT never
   sent: conntrack marks those segments INVALID and the DUT answers with RSTs. Instead, after
   sending a client SYN on IF0 we read the DUT's SYN-ACK from a packet socket on IF0 (a cBPF
   filter passes only TCP segments with SYN and ACK set; packet taps see them before the peer's
   tc ingress drop), and from then on shift the acknowledgment number of that flow's client
   segments by (DUT ISN + 1 - first client ack), put the SYN-ACK's TSval into TSecr and patch the
   TCP checksum incrementally (RFC 1624). Flows the DUT does not answer itself on IF0 (forwarded
   ones) are left untouched. If a SYN-ACK is not there yet when we look (softirq deferred to
   ksoftirqd), that flow is simply replayed as captured. */
#define FT_BITS 20
#define FT_SIZE (1u << FT_BITS)
struct flow { unsigned char key[36]; unsigned char used, polled, have_isn, have_delta; unsigned isn, tsval, delta; };
static struct flow *ft;
static int rxfd = -1;
static size_t n_fixed, n_synack, n_flows_fixed;
static unsigned hkey(const unsigned char *k) { unsigned h = 2166136261u; for (int i = 0; i < 36; i++) h = (h ^ k[i]) * 16777619u; return h; }
static struct flow *flook(const unsigned char *k, int create) {
    unsigned h = hkey(k) & (FT_SIZE - 1);
    for (unsigned i = 0; i < FT_SIZE; i++, h = (h + 1) & (FT_SIZE - 1)) {
        if (!ft[h].used) { if (!create) return NULL; ft[h].used = 1; memcpy(ft[h].key, k, 36); return &ft[h]; }
        if (!memcmp(ft[h].key, k, 36)) return &ft[h];
    }
    return NULL;
}
/* Ethernet + IPv4 (unfragmented) or IPv6 (no extension headers) + TCP: returns the TCP header
   or NULL, and fills key = saddr[16] daddr[16] sport dport in client->server order (the frame's
   own order, or reversed when swap is set: used for the DUT's replies). */
static unsigned char *tcp_of(unsigned char *f, unsigned len, unsigned char key[36], int swap) {
    if (len < 14) return NULL;
    unsigned et = f[12] << 8 | f[13]; unsigned char *ip = f + 14, *t; const unsigned char *sa, *da; int al;
    memset(key, 0, 36);
    if (et == 0x0800) {
        if (len < 34 || ip[9] != 6 || ((ip[6] << 8 | ip[7]) & 0x1fff) || (ip[6] & 0x20)) return NULL;
        t = ip + 4 * (ip[0] & 15); sa = ip + 12; da = ip + 16; al = 4;
    } else if (et == 0x86dd) {
        if (len < 74 || ip[6] != 6) return NULL;
        t = ip + 40; sa = ip + 8; da = ip + 24; al = 16;
    } else return NULL;
    if (t + 20 > f + len) return NULL;
    if (!swap) { memcpy(key, sa, al); memcpy(key + 16, da, al); memcpy(key + 32, t, 2); memcpy(key + 34, t + 2, 2); }
    else { memcpy(key, da, al); memcpy(key + 16, sa, al); memcpy(key + 32, t + 2, 2); memcpy(key + 34, t, 2); }
    return t;
}
static unsigned get32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static void put32(unsigned char *p, unsigned v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static unsigned char *ts_opt(unsigned char *t) {
    int hl = 4 * (t[12] >> 4); unsigned char *o = t + 20, *e = t + hl;
    while (o < e) { if (*o == 0) break; if (*o == 1) { o++; continue; } if (o + 1 >= e || o[1] < 2) break;
        if (*o == 8 && o[1] == 10) return o;
        o += o[1]; }
    return NULL;
}
static void csum_fix32(unsigned char *t, unsigned oldv, unsigned newv) {   /* RFC 1624 */
    unsigned sum = (~(t[16] << 8 | t[17])) & 0xffff;
    sum += (~(oldv >> 16)) & 0xffff; sum += (~oldv) & 0xffff; sum += newv >> 16; sum += newv & 0xffff;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    sum = ~sum & 0xffff; t[16] = sum >> 8; t[17] = sum;
}
/* read every pending SYN-ACK from the DUT and remember its ISN and TSval in the flow's entry */
static void drain_rx(void) {
    unsigned char b[256];
    for (;;) {
        ssize_t r = recv(rxfd, b, sizeof b, MSG_DONTWAIT | MSG_TRUNC);
        if (r < 0) return;
        unsigned len = r > (ssize_t)sizeof b ? sizeof b : (unsigned)r; unsigned char k[36];
        unsigned char *t = tcp_of(b, len, k, 1);
        if (!t || (t[13] & 0x12) != 0x12) continue;
        struct flow *fl = flook(k, 0);
        if (!fl) continue;
        fl->isn = get32(t + 4); fl->have_isn = 1; n_synack++;
        unsigned char *o = ts_opt(t); fl->tsval = o ? get32(o + 2) : 0;
    }
}
/* packet socket on the injector end of IF0 that receives only TCP SYN+ACK (IPv4 without
   fragment offset, IPv6 with TCP as next header), truncated to 256 bytes */
static void open_rx(const char *ifn) {
    static struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0800, 0, 8),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 12),
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 10, 0),
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
        BPF_STMT(BPF_LD | BPF_B | BPF_IND, 27),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x12, 5, 6),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 5),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 3),
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 67),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x02, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 256),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };
    rxfd = socket(AF_PACKET, SOCK_RAW, 0);
    if (rxfd < 0) { perror("rx socket"); exit(1); }
    if (setsockopt(rxfd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) { perror("filter"); exit(1); }
    int one = 1; setsockopt(rxfd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    int rb = 4 << 20; setsockopt(rxfd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb);
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET; sll.sll_ifindex = if_nametoindex(ifn); sll.sll_protocol = htons(ETH_P_ALL);
    if (bind(rxfd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("rx bind"); exit(1); }
}
/* before sending frame f on IF0: a SYN (re)starts its flow; an ACK of a known flow is rewritten */
static void react_pre(unsigned char *f, unsigned len) {
    unsigned char k[36]; unsigned char *t = tcp_of(f, len, k, 0);
    if (!t) return;
    unsigned fl8 = t[13];
    if ((fl8 & 0x12) == 0x02) { struct flow *fl = flook(k, 1); if (fl) { fl->polled = 0; fl->have_isn = 0; fl->have_delta = 0; } return; }
    if (!(fl8 & 0x10)) return;
    struct flow *fl = flook(k, 0);
    if (!fl) return;
    if (!fl->have_isn && !fl->polled) { drain_rx(); fl->polled = 1; }
    if (!fl->have_isn) return;
    unsigned ack = get32(t + 8);
    if (!fl->have_delta) { fl->delta = fl->isn + 1 - ack; fl->have_delta = 1; n_flows_fixed++; }
    unsigned na = ack + fl->delta;
    if (na != ack) { put32(t + 8, na); csum_fix32(t, ack, na); }
    unsigned char *o = ts_opt(t);
    if (o && fl->tsval) { unsigned oe = get32(o + 6); if (oe != fl->tsval) { put32(o + 6, fl->tsval); csum_fix32(t, oe, fl->tsval); } }
    n_fixed++;
}
static void react_post(unsigned char *f, unsigned len) {   /* after sending a SYN on IF0: collect the SYN-ACK it caused */
    if (len > 14 + 40 + 14) {
        unsigned char k[36]; unsigned char *t = tcp_of(f, len, k, 0);
        if (t && (t[13] & 0x12) == 0x02) drain_rx();
    }
}

struct frame { unsigned len; unsigned char *data; };

static unsigned long long read_sched_ns(const char *path) {
    FILE *f = fopen(path, "r"); unsigned long long v = 0;
    if (!f) return 0;
    if (fscanf(f, "%llu", &v) != 1) v = 0;
    fclose(f); return v;
}
static unsigned long long netrx_count(int cpu) {
    FILE *f = fopen("/proc/softirqs", "r"); char line[4096]; unsigned long long v = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "NET_RX:");
        if (!p) continue;
        p += 7;
        for (int i = 0; i <= cpu; i++) v = strtoull(p, &p, 10);
    }
    fclose(f); return v;
}
static void softnet(int cpu, unsigned long long out[3]) {
    FILE *f = fopen("/proc/net/softnet_stat", "r"); char line[1024];
    out[0] = out[1] = out[2] = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *p = line; unsigned long long vals[16]; int k = 0;
        while (k < 16) { char *e; unsigned long long x = strtoull(p, &e, 16); if (e == p) break; vals[k++] = x; p = e; }
        // the 13th column is the CPU number on recent kernels (rows of offline CPUs are omitted)
        if (k >= 13 && (int)vals[12] == cpu) { out[0] = vals[0]; out[1] = vals[1]; out[2] = vals[2]; break; }
    }
    fclose(f);
}
static unsigned long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000ULL + t.tv_nsec; }
static unsigned long long ru_ns(void) { struct rusage r; getrusage(RUSAGE_SELF, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000000ULL + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1000ULL; }

static int open_sock(const char *ifn) {
    int fd = socket(AF_PACKET, SOCK_RAW, 0);   // protocol 0: a send-only socket, it never receives
    if (fd < 0) { perror("socket"); exit(1); }
    struct sockaddr_ll sll = {0};
    sll.sll_family = AF_PACKET; sll.sll_ifindex = if_nametoindex(ifn); sll.sll_protocol = 0;
    if (!sll.sll_ifindex) { fprintf(stderr, "no if %s\n", ifn); exit(1); }
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); exit(1); }
    return fd;
}

int main(int argc, char **argv) {
    if (argc < 7) { fprintf(stderr, "usage: %s PCAP IF0 IF1 MAC1 KSOFTIRQD_PID CPU\n", argv[0]); return 2; }
    unsigned char mac1[6];
    if (sscanf(argv[4], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac1[0], &mac1[1], &mac1[2], &mac1[3], &mac1[4], &mac1[5]) != 6) return 2;
    char ksp[64]; snprintf(ksp, sizeof ksp, "/proc/%s/schedstat", argv[5]);
    int cpu = atoi(argv[6]);
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], eb);
    if (!p) { fprintf(stderr, "%s\n", eb); return 1; }
    size_t cap = 1 << 16, n = 0; struct frame *fr = malloc(cap * sizeof *fr);
    struct pcap_pkthdr *h; const unsigned char *d; int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        if (n == cap) { cap *= 2; fr = realloc(fr, cap * sizeof *fr); }
        fr[n].len = h->caplen; fr[n].data = malloc(h->caplen); memcpy(fr[n].data, d, h->caplen); n++;
    }
    if (rc == -1) { fprintf(stderr, "%s: %s\n", argv[1], pcap_geterr(p)); return 1; }
    pcap_close(p);
    if (n == 0) { fprintf(stderr, "%s: no frames\n", argv[1]); return 1; }
    unsigned char *which = malloc(n);
    for (size_t i = 0; i < n; i++) which[i] = fr[i].len >= 6 && memcmp(fr[i].data, mac1, 6) == 0;
    int fd0 = open_sock(argv[2]), fd1 = open_sock(argv[3]);
    int reactive = getenv("REACTIVE") && atoi(getenv("REACTIVE"));
    if (reactive) { ft = calloc(FT_SIZE, sizeof *ft); open_rx(argv[2]); }
    // touch every frame buffer once so that page faults are not part of the measurement
    volatile unsigned sum = 0; for (size_t i = 0; i < n; i++) sum += fr[i].data[0];

    unsigned long long sn0[3], sn1[3];
    unsigned long long nr0 = netrx_count(cpu); softnet(cpu, sn0);
    unsigned long long ks0 = read_sched_ns(ksp);
    unsigned long long ru0 = ru_ns(), se0 = read_sched_ns("/proc/thread-self/schedstat"), w0 = now_ns();
    size_t sent[2] = {0, 0}, err = 0;
    for (size_t i = 0; i < n; i++) {
        int fd = which[i] ? fd1 : fd0;
        if (reactive && !which[i]) react_pre(fr[i].data, fr[i].len);
        ssize_t r = send(fd, fr[i].data, fr[i].len, 0);
        if (r == (ssize_t)fr[i].len) sent[which[i]]++; else err++;
        if (reactive && !which[i]) react_post(fr[i].data, fr[i].len);
    }
    unsigned long long w1 = now_ns(), se1 = read_sched_ns("/proc/thread-self/schedstat"), ru1 = ru_ns();
    unsigned long long ks1 = read_sched_ns(ksp);
    unsigned long long nr1 = netrx_count(cpu); softnet(cpu, sn1);
    printf("frames=%zu sent0=%zu sent1=%zu errors=%zu self_ns=%llu ru_ns=%llu ksoft_ns=%llu netrx=%llu "
           "softnet_processed=%llu softnet_dropped=%llu softnet_squeeze=%llu wall_ns=%llu "
           "synacks=%zu flows_fixed=%zu segs_fixed=%zu\n",
           n, sent[0], sent[1], err, se1 - se0, ru1 - ru0, ks1 - ks0, nr1 - nr0,
           sn1[0] - sn0[0], sn1[1] - sn0[1], sn1[2] - sn0[2], w1 - w0, n_synack, n_flows_fixed, n_fixed);
    return 0;
}
