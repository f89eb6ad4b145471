/* An LD_PRELOAD allocation counter. Counts calls to malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign and valloc (every way a Swift program gets heap memory: the Swift
 * runtime's swift_slowAlloc ends in malloc or posix_memalign) and the bytes requested, and
 * prints the totals when the process exits:
 *
 *   cc -O2 -shared -fPIC -o malloccount.so malloccount.c
 *   LD_PRELOAD=./malloccount.so MALLOCCOUNT_OUT=counts.txt rxray analyze ...
 *
 * The output is one line: "allocations=N bytes=B frees=F" (to MALLOCCOUNT_OUT, else stderr).
 * It calls glibc's own __libc_* entry points, so no dlsym bootstrap is needed.
 */
#define _GNU_SOURCE
#include <errno.h>
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

#define COUNT(sz) do { __atomic_add_fetch(&n_alloc, 1, __ATOMIC_RELAXED); \
                       __atomic_add_fetch(&n_bytes, (unsigned long long)(sz), __ATOMIC_RELAXED); } while (0)

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
}
