#include "tfle_crc32.h"

/* Reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF (zlib's CRC-32).
 * Bit by bit: outputs are small, and no 1 KiB table competes with the model for flash. */
uint32_t tfle_crc32(const void *data, size_t n) {
  const uint8_t *p = (const uint8_t *)data;
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}
