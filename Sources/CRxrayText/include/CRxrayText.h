#ifndef CRXRAYTEXT_H
#define CRXRAYTEXT_H

// Byte scanning that Swift cannot yet vectorise: `SIMD16<UInt8>` comparisons compile to a
// loop over lanes. Header-only (`static inline`), so the Swift compiler inlines it at the
// call site; the .c file exists only because a C target needs a source file.

#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/// The one scan behind both functions below: the length of the longest prefix of
/// `src[0 ..< n]` that JSON text can hold unescaped, storing the bytes scanned to `dst` when
/// `dst` is not null. Callers pass a constant `dst` (null or not), so after inlining the
/// store is either always there or gone.
static inline ptrdiff_t rxray_json_scan(uint8_t *dst, const uint8_t *src, ptrdiff_t n, int escape_del) {
    ptrdiff_t i = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i ctl = _mm_set1_epi8(0x1F);
        const __m128i quote = _mm_set1_epi8(0x22);
        const __m128i bslash = _mm_set1_epi8(0x5C);
        // Without DEL, compare against '"' twice rather than branch in the loop.
        const __m128i del = _mm_set1_epi8(escape_del ? 0x7F : 0x22);
        // Thirty-two bytes a step while they fit (one mask test for both halves; a block with
        // a byte to escape is found again by the sixteen-byte loop below).
        while (i + 32 <= n) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
            if (dst) {
                _mm_storeu_si128((__m128i *)(void *)(dst + i), a);
                _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), b);
            }
            __m128i m = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(a, ctl), a), _mm_cmpeq_epi8(_mm_min_epu8(b, ctl), b));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(a, quote), _mm_cmpeq_epi8(b, quote)));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(a, bslash), _mm_cmpeq_epi8(b, bslash)));
            m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(a, del), _mm_cmpeq_epi8(b, del)));
            if (_mm_movemask_epi8(m) != 0) break;
            i += 32;
        }
        if (i == n) return n;
        for (;;) {
            ptrdiff_t at = i + 16 <= n ? i : n - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + at));
            if (dst) _mm_storeu_si128((__m128i *)(void *)(dst + at), v);
            // v <= 0x1F (unsigned) exactly when min(v, 0x1F) == v.
            __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, quote));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, bslash));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, del));
            unsigned bits = (unsigned)_mm_movemask_epi8(m);
            // The overlapping last block re-reads bytes before `i`, all clean: drop them.
            bits &= 0xFFFFu << (unsigned)(i - at);
            if (bits != 0) return at + (ptrdiff_t)__builtin_ctz(bits);
            if (at + 16 >= n) return n;
            i = at + 16;
        }
    }
#endif
    for (; i < n; i++) {
        uint8_t b = src[i];
        if (b < 0x20 || b == 0x22 || b == 0x5C || (b == 0x7F && escape_del)) return i;
        if (dst) dst[i] = b;
    }
    return n;
}

/// The length of the longest prefix of `p[0 ..< n]` that JSON text can hold unescaped: the
/// index of the first byte below 0x20, `"` (0x22), `\` (0x5C) or, when `escape_del` is
/// nonzero, DEL (0x7F); `n` when there is none. Bytes 0x80 and up (UTF-8) are clean.
/// With SSE2, sixteen bytes per step; the last partial block is read as the sixteen bytes
/// ending at `n` (never past it), so a string of 16 bytes or more needs no byte loop.
static inline ptrdiff_t rxray_json_clean_prefix(const uint8_t *p, ptrdiff_t n, int escape_del) {
    return rxray_json_scan(NULL, p, n, escape_del);
}

/// Copies the longest prefix of `src[0 ..< n]` that JSON text holds unescaped (the bytes
/// `rxray_json_clean_prefix` accepts) to `dst` and returns its length. `dst` must have room
/// for `n` bytes: with SSE2 whole sixteen-byte blocks are stored as they are scanned (a block
/// holding the first byte needing an escape is stored whole, so bytes after the returned
/// length up to the block's end may be overwritten, never beyond `dst + n`). The scan and
/// the copy are one pass: no separate memcpy call per clean run.
static inline ptrdiff_t rxray_json_copy_clean(uint8_t *dst, const uint8_t *src, ptrdiff_t n, int escape_del) {
    return rxray_json_scan(dst, src, n, escape_del);
}

#endif
