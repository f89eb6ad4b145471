/* An LD_PRELOAD allocation counter. Counts calls to malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign and valloc (every way a Swift program gets heap memory: the Swift
 * runtime's swift_slowAlloc ends in malloc or posix_memalign) and the bytes requested, and
 * prints the totals when the process exits:
 *
 *   cc -O2 -shared -fPIC -o malloccount.so malloccount.c
 *   LD_PRELOAD=./malloccount.so MALLOCCOUNT_OUT=counts.txt rxray analyze ...
 *
 * The output is one line: "allocations=N bytes=B frees=F" (to MALLOCCOUNT_OUT, else stderr).
 *
 * Sampling where allocations come from: with MALLOCCOUNT_BT_OUT=FILE, every
 * MALLOCCOUNT_BT_EVERY-th allocation (default 97) after the first MALLOCCOUNT_BT_SKIP
 * (default 0: set it past start-up to see only per-frame ones) has its return addresses
 * written to FILE, one sample per line in hex, and /proc/self/maps is copied to FILE.maps at
 * exit; Benchmarks/alloc-sites.py turns them into source lines.
 *
 * It calls glibc's own __libc_* entry points, so no dlsym bootstrap is needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static unsigned long long n_alloc, n_bytes, n_free;
static int bt_fd = -2;                       /* -2: not initialised, -1: off */
static unsigned long long bt_every = 97, bt_skip;
static __thread int in_hook;

static void bt_init(void) {
    const char *path = getenv("MALLOCCOUNT_BT_OUT");
    if (!path || !*path) { bt_fd = -1; return; }
    const char *e = getenv("MALLOCCOUNT_BT_EVERY");
    const char *s = getenv("MALLOCCOUNT_BT_SKIP");
    if (e && *e) bt_every = strtoull(e, NULL, 10);
    if (s && *s) bt_skip = strtoull(s, NULL, 10);
    if (bt_every == 0) bt_every = 1;
    bt_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static void sample(unsigned long long n) {
    if (bt_fd == -2) { in_hook = 1; bt_init(); in_hook = 0; }
    if (bt_fd < 0 || n <= bt_skip || (n - bt_skip) % bt_every != 0) return;
    in_hook = 1;
    void *frames[32];
    int depth = backtrace(frames, 32);
    char line[32 * 19 + 2];
    int len = 0;
    for (int i = 1; i < depth; i++)   /* frame 0 is this file */
        len += snprintf(line + len, sizeof line - (size_t)len, "%lx ", (unsigned long)frames[i]);
    line[len++] = '\n';
    ssize_t w = write(bt_fd, line, (size_t)len);
    (void)w;
    in_hook = 0;
}

#define COUNT(sz) do { \
        unsigned long long n_ = __atomic_add_fetch(&n_alloc, 1, __ATOMIC_RELAXED); \
        __atomic_add_fetch(&n_bytes, (unsigned long long)(sz), __ATOMIC_RELAXED); \
        if (!in_hook) sample(n_); } while (0)

void *malloc(size_t n) { COUNT(n); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { COUNT(a * b); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { COUNT(n); return __libc_realloc(p, n); }
void *memalign(size_t al, size_t n) { COUNT(n); return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { COUNT(n); return __libc_memalign(al, n); }
void *valloc(size_t n) { COUNT(n); return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n); }
int posix_memalign(void **out, size_t al, size_t n) {
    COUNT(n);
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void free(void *p) {
    if (p) __atomic_add_fetch(&n_free, 1, __ATOMIC_RELAXED);
    __libc_free(p);
}

static void copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[8192];
    ssize_t r;
    while (in >= 0 && out >= 0 && (r = read(in, buf, sizeof buf)) > 0) {
        ssize_t w = write(out, buf, (size_t)r);
        (void)w;
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
}

__attribute__((destructor)) static void report(void) {
    char line[160];
    int len = snprintf(line, sizeof line, "allocations=%llu bytes=%llu frees=%llu\n",
                       n_alloc, n_bytes, n_free);
    const char *path = getenv("MALLOCCOUNT_OUT");
    int fd = 2;
    if (path && *path) fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0 && len > 0) {
        ssize_t w = write(fd, line, (size_t)len);
        (void)w;
    }
    if (fd > 2) close(fd);
    if (bt_fd >= 0) {
        close(bt_fd);
        char maps[4096];
        snprintf(maps, sizeof maps, "%s.maps", getenv("MALLOCCOUNT_BT_OUT"));
        copy_file("/proc/self/maps", maps);
    }
}
