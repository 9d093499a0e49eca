/* libproxmox: the hash of a member name, shared by the code generator (which picks, per result
 * type, a seed and a table size under which the hash is perfect: no two members share a slot)
 * and the decoder (which then finds a member with one slot and one comparison). Internal.
 *
 * Member names are short and distinct; their length, first, middle and last byte, and whether
 * the name is the base of an indexed member ("net" of "net3"), mixed with the seed, separate
 * them. */
#ifndef PMX_NAMEHASH_H
#define PMX_NAMEHASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t pmx__name_hash(const char *s, size_t n, int indexed, uint32_t seed) {
    uint32_t h = (seed + 1) * 0x9E3779B1u ^ (uint32_t)n * 0x85EBCA77u;
    if (n) {
        h ^= (unsigned char)s[0] * 0xC2B2AE3Du;
        h = (h ^ (h >> 13)) * 0x27D4EB2Fu;
        h ^= (unsigned char)s[n - 1] * 0x165667B1u;
        h ^= (unsigned char)s[n / 2] * 0x9E3779B1u;
    }
    h ^= (uint32_t)(indexed != 0) * 0xD3A2646Cu;
    h = (h ^ (h >> 15)) * 0x2C1B3C6Du;
    return h ^ (h >> 16);
}

#endif
