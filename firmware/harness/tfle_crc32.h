/* CRC-32 exactly as zlib.crc32() computes it, so the host can check the board's outputs. */
#ifndef TFLE_CRC32_H
#define TFLE_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

uint32_t tfle_crc32(const void *data, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* TFLE_CRC32_H */
