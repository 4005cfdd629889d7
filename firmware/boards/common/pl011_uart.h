/* Arm PrimeCell PL011 UART (Stellaris LM3S6965): polled, 8N1. */
#ifndef TFLE_PL011_UART_H
#define TFLE_PL011_UART_H

#include <stdint.h>

#include "cortexm.h"

#define PL011_DR(base) TFLE_REG((base) + 0x000u)
#define PL011_FR(base) TFLE_REG((base) + 0x018u)
#define PL011_IBRD(base) TFLE_REG((base) + 0x024u)
#define PL011_FBRD(base) TFLE_REG((base) + 0x028u)
#define PL011_LCRH(base) TFLE_REG((base) + 0x02Cu)
#define PL011_CR(base) TFLE_REG((base) + 0x030u)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)

static inline void pl011_uart_init(uintptr_t base, uint32_t uartclk_hz, uint32_t baud) {
  /* Divider in 1/64ths: BRD = clk / (16 * baud). */
  const uint32_t div64 = (uint32_t)(((uint64_t)uartclk_hz * 4u + baud / 2u) / baud);
  PL011_CR(base) = 0;
  PL011_IBRD(base) = div64 >> 6;
  PL011_FBRD(base) = div64 & 0x3Fu;
  PL011_LCRH(base) = (3u << 5) | (1u << 4); /* 8 bits, FIFOs on */
  PL011_CR(base) = (1u << 9) | (1u << 8) | 1u; /* RXE, TXE, UARTEN */
}

static inline void pl011_uart_putc(uintptr_t base, char c) {
  while (PL011_FR(base) & PL011_FR_TXFF) {
  }
  PL011_DR(base) = (uint8_t)c;
}

static inline int pl011_uart_getc(uintptr_t base) {
  while (PL011_FR(base) & PL011_FR_RXFE) {
  }
  return (int)(PL011_DR(base) & 0xFFu);
}

#endif /* TFLE_PL011_UART_H */
