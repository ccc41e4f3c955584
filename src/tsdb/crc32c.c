/* CRC-32C (Castagnoli), the checksum of every Prometheus on-disk format: the SSE4.2 instruction on
 * x86-64 CPUs that have it, else a table-driven slicing-by-8 loop. Both give the same result as
 * Go's crc32.Update(crc, crc32.MakeTable(crc32.Castagnoli), p). */
#include "tsdb/wal.h"

#include <pthread.h>
#include <string.h>

/* Reflected polynomial 0x1EDC6F41. */
enum { CRC32C_POLY_REFLECTED = 0x82F63B78u };

/* table[k][b]: the CRC of byte b followed by k zero bytes; filled once, read-only afterwards. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        }
        crc_table[0][b] = c;
    }
    for (uint32_t b = 0; b < 256; b++) {
        for (int k = 1; k < 8; k++) {
            uint32_t prev = crc_table[k - 1][b];
            crc_table[k][b] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

/* Little-endian load whatever the host order, so the slicing loop is portable. */
static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t tsdb_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_table_once, crc_table_init);
    const uint8_t *b = p;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = load_le32(b) ^ c;
        uint32_t hi = load_le32(b + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
        b += 8;
        n -= 8;
    }
    while (n > 0) {
        c = (c >> 8) ^ crc_table[0][(c ^ *b) & 0xff];
        b++;
        n--;
    }
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t c = ~crc;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, sizeof(w)); /* x86 is little-endian: the instruction wants host order */
        c = __builtin_ia32_crc32di(c, w);
        b += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n > 0) {
        c32 = __builtin_ia32_crc32qi(c32, *b);
        b++;
        n--;
    }
    return ~c32;
}

uint32_t tsdb_crc32c(uint32_t crc, const void *p, size_t n)
{
    /* __builtin_cpu_supports reads a table the runtime fills before main; it is cheap. */
    if (__builtin_cpu_supports("sse4.2")) {
        return crc32c_hw(crc, p, n);
    }
    return tsdb_crc32c_sw(crc, p, n);
}

#else

uint32_t tsdb_crc32c(uint32_t crc, const void *p, size_t n)
{
    return tsdb_crc32c_sw(crc, p, n);
}

#endif
