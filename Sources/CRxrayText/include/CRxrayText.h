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

/// The length of the longest prefix of `src[0 ..< n]` that JSON text can hold unescaped,
/// storing the bytes scanned to `dst` when `dst` is not null. Callers pass a constant `dst`
/// (null or not), so after inlining the store is either always there or gone.
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

/// Writes the JSON escape of byte `b` (one that `rxray_json_clean_prefix` stops at) to `dst`
/// and returns its length: `\"` `\\` `\n` `\r` `\t`, anything else `\u00xx` (lower-case hex).
static inline ptrdiff_t rxray_json_put_escape(uint8_t *dst, uint8_t b) {
    static const char hex[16] = "0123456789abcdef";
    dst[0] = '\\';
    switch (b) {
    case '"': dst[1] = '"'; return 2;
    case '\\': dst[1] = '\\'; return 2;
    case '\n': dst[1] = 'n'; return 2;
    case '\r': dst[1] = 'r'; return 2;
    case '\t': dst[1] = 't'; return 2;
    default:
        dst[1] = 'u'; dst[2] = '0'; dst[3] = '0';
        dst[4] = (uint8_t)hex[b >> 4]; dst[5] = (uint8_t)hex[b & 15];
        return 6;
    }
}

/// Writes `src[0 ..< n]` JSON-escaped to `dst` (the bytes between the quotes of a JSON
/// string; the escapes of `rxray_json_put_escape`, DEL too when `escape_del` is nonzero) and
/// returns the number of bytes written. `dst` must have room for `6 * n` bytes.
///
/// One pass: sixteen-byte blocks are stored as they are scanned, and a byte that needs an
/// escape is written in place and the scan goes on after it (no call, no restart). Fewer
/// than sixteen bytes at the end are read as the sixteen bytes ending at `n` (never past it)
/// when nothing was escaped among the bytes that block re-reads; otherwise byte by byte.
static inline ptrdiff_t rxray_json_escape(uint8_t *dst, const uint8_t *src, ptrdiff_t n, int escape_del) {
    ptrdiff_t i = 0, o = 0;
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i ctl = _mm_set1_epi8(0x1F);
        const __m128i quote = _mm_set1_epi8(0x22);
        const __m128i bslash = _mm_set1_epi8(0x5C);
        const __m128i del = _mm_set1_epi8(escape_del ? 0x7F : 0x22);
        // Source bytes from `clean_from` on are in `dst` at the same distance from `o` as from
        // `i` (nothing escaped since), so the last block may be stored over them again.
        ptrdiff_t clean_from = 0;
        for (;;) {
            while (i + 16 <= n) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
                _mm_storeu_si128((__m128i *)(void *)(dst + o), v);
                __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
                m = _mm_or_si128(m, _mm_cmpeq_epi8(v, quote));
                m = _mm_or_si128(m, _mm_cmpeq_epi8(v, bslash));
                m = _mm_or_si128(m, _mm_cmpeq_epi8(v, del));
                unsigned bits = (unsigned)_mm_movemask_epi8(m);
                if (bits == 0) { i += 16; o += 16; continue; }
                ptrdiff_t k = (ptrdiff_t)__builtin_ctz(bits);
                i += k; o += k;
                o += rxray_json_put_escape(dst + o, src[i]);
                i += 1;
                clean_from = i;
            }
            if (i == n) return o;
            ptrdiff_t at = n - 16;
            if (at < clean_from) break;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + at));
            ptrdiff_t back = i - at;
            _mm_storeu_si128((__m128i *)(void *)(dst + o - back), v);
            __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v);
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, quote));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, bslash));
            m = _mm_or_si128(m, _mm_cmpeq_epi8(v, del));
            unsigned bits = (unsigned)_mm_movemask_epi8(m) & (0xFFFFu << (unsigned)back);
            if (bits == 0) return o + (n - i);
            ptrdiff_t k = (ptrdiff_t)__builtin_ctz(bits) - back;
            i += k; o += k;
            o += rxray_json_put_escape(dst + o, src[i]);
            i += 1;
            break;
        }
    }
#endif
    for (; i < n; i++) {
        uint8_t b = src[i];
        if (b < 0x20 || b == 0x22 || b == 0x5C || (b == 0x7F && escape_del)) {
            o += rxray_json_put_escape(dst + o, b);
        } else {
            dst[o++] = b;
        }
    }
    return o;
}

/// Decimal text of each byte value: up to three digits, then the digit count in the last byte.
static const uint8_t rxray_octet_text[256][4] = {
    {48,0,0,1}, {49,0,0,1}, {50,0,0,1}, {51,0,0,1}, {52,0,0,1}, {53,0,0,1}, {54,0,0,1}, {55,0,0,1},
    {56,0,0,1}, {57,0,0,1}, {49,48,0,2}, {49,49,0,2}, {49,50,0,2}, {49,51,0,2}, {49,52,0,2},
    {49,53,0,2}, {49,54,0,2}, {49,55,0,2}, {49,56,0,2}, {49,57,0,2}, {50,48,0,2}, {50,49,0,2},
    {50,50,0,2}, {50,51,0,2}, {50,52,0,2}, {50,53,0,2}, {50,54,0,2}, {50,55,0,2}, {50,56,0,2},
    {50,57,0,2}, {51,48,0,2}, {51,49,0,2}, {51,50,0,2}, {51,51,0,2}, {51,52,0,2}, {51,53,0,2},
    {51,54,0,2}, {51,55,0,2}, {51,56,0,2}, {51,57,0,2}, {52,48,0,2}, {52,49,0,2}, {52,50,0,2},
    {52,51,0,2}, {52,52,0,2}, {52,53,0,2}, {52,54,0,2}, {52,55,0,2}, {52,56,0,2}, {52,57,0,2},
    {53,48,0,2}, {53,49,0,2}, {53,50,0,2}, {53,51,0,2}, {53,52,0,2}, {53,53,0,2}, {53,54,0,2},
    {53,55,0,2}, {53,56,0,2}, {53,57,0,2}, {54,48,0,2}, {54,49,0,2}, {54,50,0,2}, {54,51,0,2},
    {54,52,0,2}, {54,53,0,2}, {54,54,0,2}, {54,55,0,2}, {54,56,0,2}, {54,57,0,2}, {55,48,0,2},
    {55,49,0,2}, {55,50,0,2}, {55,51,0,2}, {55,52,0,2}, {55,53,0,2}, {55,54,0,2}, {55,55,0,2},
    {55,56,0,2}, {55,57,0,2}, {56,48,0,2}, {56,49,0,2}, {56,50,0,2}, {56,51,0,2}, {56,52,0,2},
    {56,53,0,2}, {56,54,0,2}, {56,55,0,2}, {56,56,0,2}, {56,57,0,2}, {57,48,0,2}, {57,49,0,2},
    {57,50,0,2}, {57,51,0,2}, {57,52,0,2}, {57,53,0,2}, {57,54,0,2}, {57,55,0,2}, {57,56,0,2},
    {57,57,0,2}, {49,48,48,3}, {49,48,49,3}, {49,48,50,3}, {49,48,51,3}, {49,48,52,3},
    {49,48,53,3}, {49,48,54,3}, {49,48,55,3}, {49,48,56,3}, {49,48,57,3}, {49,49,48,3},
    {49,49,49,3}, {49,49,50,3}, {49,49,51,3}, {49,49,52,3}, {49,49,53,3}, {49,49,54,3},
    {49,49,55,3}, {49,49,56,3}, {49,49,57,3}, {49,50,48,3}, {49,50,49,3}, {49,50,50,3},
    {49,50,51,3}, {49,50,52,3}, {49,50,53,3}, {49,50,54,3}, {49,50,55,3}, {49,50,56,3},
    {49,50,57,3}, {49,51,48,3}, {49,51,49,3}, {49,51,50,3}, {49,51,51,3}, {49,51,52,3},
    {49,51,53,3}, {49,51,54,3}, {49,51,55,3}, {49,51,56,3}, {49,51,57,3}, {49,52,48,3},
    {49,52,49,3}, {49,52,50,3}, {49,52,51,3}, {49,52,52,3}, {49,52,53,3}, {49,52,54,3},
    {49,52,55,3}, {49,52,56,3}, {49,52,57,3}, {49,53,48,3}, {49,53,49,3}, {49,53,50,3},
    {49,53,51,3}, {49,53,52,3}, {49,53,53,3}, {49,53,54,3}, {49,53,55,3}, {49,53,56,3},
    {49,53,57,3}, {49,54,48,3}, {49,54,49,3}, {49,54,50,3}, {49,54,51,3}, {49,54,52,3},
    {49,54,53,3}, {49,54,54,3}, {49,54,55,3}, {49,54,56,3}, {49,54,57,3}, {49,55,48,3},
    {49,55,49,3}, {49,55,50,3}, {49,55,51,3}, {49,55,52,3}, {49,55,53,3}, {49,55,54,3},
    {49,55,55,3}, {49,55,56,3}, {49,55,57,3}, {49,56,48,3}, {49,56,49,3}, {49,56,50,3},
    {49,56,51,3}, {49,56,52,3}, {49,56,53,3}, {49,56,54,3}, {49,56,55,3}, {49,56,56,3},
    {49,56,57,3}, {49,57,48,3}, {49,57,49,3}, {49,57,50,3}, {49,57,51,3}, {49,57,52,3},
    {49,57,53,3}, {49,57,54,3}, {49,57,55,3}, {49,57,56,3}, {49,57,57,3}, {50,48,48,3},
    {50,48,49,3}, {50,48,50,3}, {50,48,51,3}, {50,48,52,3}, {50,48,53,3}, {50,48,54,3},
    {50,48,55,3}, {50,48,56,3}, {50,48,57,3}, {50,49,48,3}, {50,49,49,3}, {50,49,50,3},
    {50,49,51,3}, {50,49,52,3}, {50,49,53,3}, {50,49,54,3}, {50,49,55,3}, {50,49,56,3},
    {50,49,57,3}, {50,50,48,3}, {50,50,49,3}, {50,50,50,3}, {50,50,51,3}, {50,50,52,3},
    {50,50,53,3}, {50,50,54,3}, {50,50,55,3}, {50,50,56,3}, {50,50,57,3}, {50,51,48,3},
    {50,51,49,3}, {50,51,50,3}, {50,51,51,3}, {50,51,52,3}, {50,51,53,3}, {50,51,54,3},
    {50,51,55,3}, {50,51,56,3}, {50,51,57,3}, {50,52,48,3}, {50,52,49,3}, {50,52,50,3},
    {50,52,51,3}, {50,52,52,3}, {50,52,53,3}, {50,52,54,3}, {50,52,55,3}, {50,52,56,3},
    {50,52,57,3}, {50,53,48,3}, {50,53,49,3}, {50,53,50,3}, {50,53,51,3}, {50,53,52,3},
    {50,53,53,3}
};

/// Writes the dotted-quad text of the IPv4 address held host-order in `v` (`192.0.2.1`) to
/// `dst` and returns its length (7 to 15). `dst` must have room for 16 bytes: each octet is
/// one four-byte store from `rxray_octet_text`, the next octet or dot overwriting the rest.
static inline ptrdiff_t rxray_put_ipv4(uint8_t *dst, uint32_t v) {
    uint8_t *p = dst;
    const uint8_t *e = rxray_octet_text[v >> 24];
    __builtin_memcpy(p, e, 4); p += e[3]; *p++ = '.';
    e = rxray_octet_text[(v >> 16) & 0xFF];
    __builtin_memcpy(p, e, 4); p += e[3]; *p++ = '.';
    e = rxray_octet_text[(v >> 8) & 0xFF];
    __builtin_memcpy(p, e, 4); p += e[3]; *p++ = '.';
    e = rxray_octet_text[v & 0xFF];
    __builtin_memcpy(p, e, 4); p += e[3];
    return p - dst;
}

/// Writes the MAC address held in the low 48 bits of `v` as `aa:bb:cc:dd:ee:ff` (lower-case
/// hex, 17 bytes) to `dst`: each octet one two-byte store from a pair table.
static inline void rxray_put_mac(uint8_t *dst, uint64_t v) {
    static const char pairs[513] =
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
        "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
        "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
        "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
        "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
        "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (int k = 0; k < 6; k++) {
        unsigned octet = (unsigned)(v >> (40 - 8 * k)) & 0xFF;
        __builtin_memcpy(dst + 3 * k, pairs + 2 * octet, 2);
        if (k < 5) dst[3 * k + 2] = ':';
    }
}

/// Writes the RFC 5952 text of the IPv6 address `high`:`low` (lower-case hex, no leading
/// zeros, the first longest run of two or more zero groups as `::`) to `dst` and returns its
/// length (2 to 39). `dst` must have room for 40 bytes. IPv4-mapped addresses are the
/// caller's (`::ffff:` and a dotted quad). One pass for the zero run, one for the text: no
/// per-group call, no overflow checks.
static inline ptrdiff_t rxray_put_ipv6(uint8_t *dst, uint64_t high, uint64_t low) {
    static const char hex[16] = "0123456789abcdef";
    unsigned g[8];
    for (int i = 0; i < 4; i++) {
        g[i] = (unsigned)(high >> (48 - 16 * i)) & 0xFFFFu;
        g[4 + i] = (unsigned)(low >> (48 - 16 * i)) & 0xFFFFu;
    }
    int best = -1, bestLen = 0, cur = -1, curLen = 0;
    for (int i = 0; i < 8; i++) {
        if (g[i] == 0) {
            if (cur < 0) { cur = i; curLen = 0; }
            curLen++;
            if (curLen > bestLen) { best = cur; bestLen = curLen; }
        } else {
            cur = -1;
        }
    }
    if (bestLen < 2) best = -1;
    ptrdiff_t o = 0;
    int colon = 0;
    for (int i = 0; i < 8;) {
        if (i == best) {
            dst[o] = ':'; dst[o + 1] = ':'; o += 2;
            colon = 0;
            i += bestLen;
            continue;
        }
        if (colon) dst[o++] = ':';
        unsigned v = g[i];
        if (v >= 0x1000u) dst[o++] = (uint8_t)hex[v >> 12];
        if (v >= 0x100u) dst[o++] = (uint8_t)hex[(v >> 8) & 15];
        if (v >= 0x10u) dst[o++] = (uint8_t)hex[(v >> 4) & 15];
        dst[o++] = (uint8_t)hex[v & 15];
        colon = 1;
        i++;
    }
    return o;
}

/// Copies `n` bytes from `src` to `dst` (which do not overlap). Up to 64 bytes are copied
/// inline with at most four overlapping loads and stores of the same width (every load before
/// any store), without a call into the C library: most text an output record is made of —
/// keys, names, numbers, stage entries — is that short. Longer copies call `memcpy`.
static inline void rxray_copy(uint8_t *dst, const uint8_t *src, size_t n) {
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a, b;
            __builtin_memcpy(&a, src, 8); __builtin_memcpy(&b, src + n - 8, 8);
            __builtin_memcpy(dst, &a, 8); __builtin_memcpy(dst + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            __builtin_memcpy(&a, src, 4); __builtin_memcpy(&b, src + n - 4, 4);
            __builtin_memcpy(dst, &a, 4); __builtin_memcpy(dst + n - 4, &b, 4);
        } else if (n > 0) {
            uint8_t a = src[0], b = src[n / 2], c = src[n - 1];
            dst[0] = a; dst[n / 2] = b; dst[n - 1] = c;
        }
        return;
    }
#if defined(__SSE2__)
    if (n <= 32) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 16));
        _mm_storeu_si128((__m128i *)(void *)dst, a);
        _mm_storeu_si128((__m128i *)(void *)(dst + n - 16), b);
        return;
    }
    if (n <= 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + n - 16));
        _mm_storeu_si128((__m128i *)(void *)dst, a);
        _mm_storeu_si128((__m128i *)(void *)(dst + 16), b);
        _mm_storeu_si128((__m128i *)(void *)(dst + n - 32), c);
        _mm_storeu_si128((__m128i *)(void *)(dst + n - 16), d);
        return;
    }
#endif
    __builtin_memcpy(dst, src, n);
}

/// "00" "01" ... "99": two decimal digits per lookup.
static const char rxray_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/// Writes the eight decimal digits of `v` (< 10^8), zero-padded, to `dst`: two 32-bit
/// divisions by constants and four pair lookups.
static inline void rxray_put_8digits(uint8_t *dst, uint32_t v) {
    uint32_t a = v / 10000, b = v - a * 10000;
    uint32_t a1 = a / 100, a2 = a - a1 * 100, b1 = b / 100, b2 = b - b1 * 100;
    __builtin_memcpy(dst, rxray_digit_pairs + 2 * a1, 2);
    __builtin_memcpy(dst + 2, rxray_digit_pairs + 2 * a2, 2);
    __builtin_memcpy(dst + 4, rxray_digit_pairs + 2 * b1, 2);
    __builtin_memcpy(dst + 6, rxray_digit_pairs + 2 * b2, 2);
}

/// Writes `v` (< 10^8) in decimal without leading zeros to `dst` (room for 8 bytes; bytes
/// after the digits may be overwritten) and returns the digit count: the eight digits are
/// made in a register and shifted so the first significant one comes first.
static inline ptrdiff_t rxray_put_decimal_small(uint8_t *dst, uint32_t v) {
    ptrdiff_t n = v < 10000 ? (v < 100 ? (v < 10 ? 1 : 2) : (v < 1000 ? 3 : 4))
                            : (v < 1000000 ? (v < 100000 ? 5 : 6) : (v < 10000000 ? 7 : 8));
    uint8_t digits[8];
    rxray_put_8digits(digits, v);
    uint64_t x;
    __builtin_memcpy(&x, digits, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x <<= 8 * (8 - n);
#else
    if (n < 8) x >>= 8 * (8 - n);
#endif
    __builtin_memcpy(dst, &x, 8);
    return n;
}

/// Writes `v` in decimal without leading zeros to `dst` (room for 24 bytes) and returns the
/// number of digits (1 to 20): eight digits per step, no digit loop.
static inline ptrdiff_t rxray_put_decimal(uint8_t *dst, uint64_t v) {
    if (v < 100000000u) return rxray_put_decimal_small(dst, (uint32_t)v);
    uint64_t hi = v / 100000000u;
    uint32_t lo = (uint32_t)(v - hi * 100000000u);
    ptrdiff_t n;
    if (hi < 100000000u) {
        n = rxray_put_decimal_small(dst, (uint32_t)hi);
    } else {
        uint64_t top = hi / 100000000u;
        uint32_t mid = (uint32_t)(hi - top * 100000000u);
        n = rxray_put_decimal_small(dst, (uint32_t)top);
        rxray_put_8digits(dst + n, mid);
        n += 8;
    }
    rxray_put_8digits(dst + n, lo);
    return n + 8;
}

/// Writes the text of an IPv4 connection tuple with ports, `src=A dst=B sport=S dport=D`
/// (addresses host-order), to `dst` (room for 72 bytes) and returns its length: conntrack's
/// tuple text in one call.
static inline ptrdiff_t rxray_put_ct_tuple_v4(uint8_t *dst, uint32_t src, uint32_t dstaddr,
                                              uint16_t sport, uint16_t dport) {
    uint8_t *p = dst;
    __builtin_memcpy(p, "src=", 4); p += 4;
    p += rxray_put_ipv4(p, src);
    __builtin_memcpy(p, " dst=", 5); p += 5;
    p += rxray_put_ipv4(p, dstaddr);
    __builtin_memcpy(p, " sport=", 7); p += 7;
    p += rxray_put_decimal_small(p, sport);
    __builtin_memcpy(p, " dport=", 7); p += 7;
    p += rxray_put_decimal_small(p, dport);
    return p - dst;
}

/// Writes the nine decimal digits of `v` (< 10^9), zero-padded, to `dst` (the nanoseconds
/// of a timestamp).
static inline void rxray_put_9digits(uint8_t *dst, uint32_t v) {
    uint32_t first = v / 100000000u;
    dst[0] = (uint8_t)('0' + first);
    rxray_put_8digits(dst + 1, v - first * 100000000u);
}

/// Writes the comma-separated list `src[0 ..< n]` as JSON strings to `dst` (`a,b c` becomes
/// `"a","b c"`) and returns the number of bytes written. `dst` must have room for `3 * n + 2`
/// bytes. For text with nothing to escape.
/// Sixteen-byte blocks are stored as they are scanned and each comma found becomes `","` in
/// place, as in `rxray_json_escape`.
static inline ptrdiff_t rxray_json_comma_list(uint8_t *dst, const uint8_t *src, ptrdiff_t n) {
    ptrdiff_t i = 0, o = 1;
    dst[0] = '"';
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i comma = _mm_set1_epi8(',');
        ptrdiff_t clean_from = 0;
        for (;;) {
            while (i + 16 <= n) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
                _mm_storeu_si128((__m128i *)(void *)(dst + o), v);
                unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma));
                if (bits == 0) { i += 16; o += 16; continue; }
                ptrdiff_t k = (ptrdiff_t)__builtin_ctz(bits);
                i += k; o += k;
                dst[o] = '"'; dst[o + 1] = ','; dst[o + 2] = '"';
                o += 3; i += 1;
                clean_from = i;
            }
            if (i == n) break;
            ptrdiff_t at = n - 16;
            if (at < clean_from) break;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + at));
            ptrdiff_t back = i - at;
            _mm_storeu_si128((__m128i *)(void *)(dst + o - back), v);
            unsigned bits = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, comma)) & (0xFFFFu << (unsigned)back);
            if (bits == 0) { o += n - i; i = n; break; }
            ptrdiff_t k = (ptrdiff_t)__builtin_ctz(bits) - back;
            i += k; o += k;
            dst[o] = '"'; dst[o + 1] = ','; dst[o + 2] = '"';
            o += 3; i += 1;
            break;
        }
    }
#endif
    for (; i < n; i++) {
        uint8_t b = src[i];
        if (b == ',') { dst[o] = '"'; dst[o + 1] = ','; dst[o + 2] = '"'; o += 3; } else { dst[o++] = b; }
    }
    dst[o++] = '"';
    return o;
}

#endif
