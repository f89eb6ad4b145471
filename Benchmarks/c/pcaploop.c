/* The baseline: the least a libpcap reader can do per frame. Reads every frame of a capture
 * with pcap_next_ex and touches its header and first bytes, so that rxray's speed can be
 * given as a ratio to "just reading the file" on the same machine in the same run.
 *
 *   cc -O2 -o pcaploop pcaploop.c -lpcap
 *   pcaploop FILE        prints: frames=N bytes=B seconds=S
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: pcaploop FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) {
        fprintf(stderr, "pcaploop: %s\n", err);
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t frames = 0, bytes = 0, check = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        frames++;
        bytes += h->caplen;
        /* Read what any decoder reads first: the EtherType and the IP version/protocol. */
        if (h->caplen >= 24) check += (uint64_t)data[12] << 8 | data[13] | data[14] | data[23];
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcaploop: %s\n", pcap_geterr(p));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("frames=%llu bytes=%llu seconds=%.3f check=%llu\n", (unsigned long long)frames,
           (unsigned long long)bytes, s, (unsigned long long)(check & 0xffff));
    pcap_close(p);
    return 0;
}
