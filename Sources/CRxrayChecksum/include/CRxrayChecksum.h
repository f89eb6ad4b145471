#ifndef CRXRAYCHECKSUM_H
#define CRXRAYCHECKSUM_H

// The Internet checksum's ones'-complement sum over a byte range. Header-only (`static
// inline`), so the Swift compiler inlines it at the call site; the .c file exists only
// because a C target needs a source file.

#include <stddef.h>
#include <stdint.h>

/// The eight bytes at `p` as a little-endian number (byte `i` in bits `8i ..< 8i + 8`).
static inline uint64_t rxray_csum_le64(const uint8_t *p) {
    uint64_t w;
    __builtin_memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

/// `a + b` with the carry out of bit 63 added back in (ones'-complement addition modulo
/// 2^64 - 1). Never 0 unless both are 0.
static inline uint64_t rxray_csum_add(uint64_t a, uint64_t b) {
    uint64_t s;
    uint64_t carry = __builtin_add_overflow(a, b, &s) ? 1 : 0;
    // s <= 2^64 - 2 after a carry, so adding it back cannot carry again.
    return s + carry;
}

// One add-with-carry of the eight bytes at `off` past %[q] into %[s], as assembler text; four
// and eight of them at consecutive offsets (the unrolled chains below).
#define RXRAY_ADC(off) "adcq " #off "(%[q]), %[s]\n\t"
#define RXRAY_ADC4(off) RXRAY_ADC(off) RXRAY_ADC(off + 8) RXRAY_ADC(off + 16) RXRAY_ADC(off + 24)
#define RXRAY_ADC8(off) RXRAY_ADC4(off) RXRAY_ADC4(off + 32)

/// The ones'-complement sum of the big-endian 16-bit words of the `n` bytes at `data` (an odd last byte
/// is the high byte of a zero-padded word), folded to 16 bits: 0 only when every byte is 0,
/// else the one value in 1...0xFFFF congruent to the word sum modulo 0xFFFF.
///
/// The bytes are read as little-endian 64-bit numbers and added with end-around carry (the
/// sum stays congruent modulo 0xFFFF, as 2^64 = (2^16)^4 is 1 modulo 0xFFFF, and is zero
/// only when every word is); the 64-bit sum is folded to 16 bits the same way and its two
/// bytes swapped once at the end (the ones'-complement sum of byte-swapped words is the
/// byte-swapped sum, RFC 1071). On x86_64 the 64-bit words are summed by add-with-carry
/// chains (one instruction per eight bytes, the carry kept in the flag across the loop);
/// elsewhere by the portable loop below.
static inline uint32_t rxray_csum_fold(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    uint64_t s = 0;
    size_t words = n >> 3;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(RXRAY_CSUM_PORTABLE)
    if (__builtin_constant_p(n) && n < 64) {
        // A short length known when compiled (a 20-byte IPv4 header): the loop unrolls into a
        // few adds, without the chains' tests and jumps.
        for (size_t i = 0; i < words; i++) s = rxray_csum_add(s, rxray_csum_le64(p + 8 * i));
    } else if (words != 0) {
        const uint8_t *q = p;
        size_t blocks = n >> 7;
        // One add-with-carry per eight bytes, 128 bytes a loop step: `lea` and `dec` leave the
        // carry flag alone, so the chain runs across the steps. Then 64, 32, 16 and 8 bytes
        // as the length's bits say, each a chain of its own started by the `test` (which
        // clears the carry). Each chain ends with one `adc $0`, which cannot carry again: the
        // sum is all ones with a carry pending only if it was so before the last add (an
        // add-with-carry of x and w gives all ones and a carry only when x and w are all ones
        // and a carry came in), so never in a chain that starts at a value with no carry.
        __asm__(
            "testq %[b], %[b]\n\t"
            "jz 2f\n"
            "1:\n\t"
            RXRAY_ADC8(0) RXRAY_ADC8(64)
            "leaq 128(%[q]), %[q]\n\t"
            "decq %[b]\n\t"
            "jnz 1b\n\t"
            "adcq $0, %[s]\n"
            "2:\n\t"
            "testq $64, %[n]\n\t"
            "jz 3f\n\t"
            RXRAY_ADC8(0)
            "leaq 64(%[q]), %[q]\n\t"
            "adcq $0, %[s]\n"
            "3:\n\t"
            "testq $32, %[n]\n\t"
            "jz 4f\n\t"
            RXRAY_ADC4(0)
            "leaq 32(%[q]), %[q]\n\t"
            "adcq $0, %[s]\n"
            "4:\n\t"
            "testq $16, %[n]\n\t"
            "jz 5f\n\t"
            RXRAY_ADC(0) RXRAY_ADC(8)
            "leaq 16(%[q]), %[q]\n\t"
            "adcq $0, %[s]\n"
            "5:\n\t"
            "testq $8, %[n]\n\t"
            "jz 6f\n\t"
            RXRAY_ADC(0)
            "adcq $0, %[s]\n"
            "6:"
            : [s] "+r"(s), [q] "+r"(q), [b] "+r"(blocks)
            : [n] "r"(n)
            : "cc", "memory");
    }
#else
    for (size_t i = 0; i < words; i++) s = rxray_csum_add(s, rxray_csum_le64(p + 8 * i));
#endif
    size_t tail = n & 7;
    if (tail != 0) {
        uint64_t w;
        if (n >= 8) {
            // The last eight bytes, shifted so the `tail` bytes after the last whole word
            // land at byte 0 on (the first of them is at an even offset from `p`, as byte 0).
            w = rxray_csum_le64(p + n - 8) >> (8 * (8 - tail));
        } else {
            const uint8_t *t = p;
            w = 0;
            unsigned at = 0;
            if (tail & 4) {
                uint32_t v;
                __builtin_memcpy(&v, t, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                v = __builtin_bswap32(v);
#endif
                w = v;
                at = 4;
            }
            if (tail & 2) {
                w |= ((uint64_t)t[at] | (uint64_t)t[at + 1] << 8) << (8 * at);
                at += 2;
            }
            if (tail & 1) w |= (uint64_t)t[at] << (8 * at);
        }
        s = rxray_csum_add(s, w);
    }
    // 64 to 32 and 32 to 16 bits: adding a number to itself rotated by half its width puts
    // the end-around sum of its halves in the upper half (the carry out of the lower half is
    // the one the upper half needs). Neither step makes a nonzero sum zero.
    uint64_t t64 = s + ((s >> 32) | (s << 32));
    uint32_t x = (uint32_t)(t64 >> 32);
    uint32_t t32 = x + ((x >> 16) | (x << 16));
    uint32_t f = t32 >> 16;
    return ((f >> 8) | (f << 8)) & 0xFFFFu;
}

#endif
