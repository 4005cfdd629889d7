/* Arm CMSDK APB UART (MPS2 and MPS3 FPGA images): polled, 8N1. */
#ifndef TFLE_CMSDK_UART_H
#define TFLE_CMSDK_UART_H

#include <stdint.h>

#include "cortexm.h"

#define CMSDK_UART_DATA(base) TFLE_REG((base) + 0x000u)
#define CMSDK_UART_STATE(base) TFLE_REG((base) + 0x004u)
#define CMSDK_UART_CTRL(base) TFLE_REG((base) + 0x008u)
#define CMSDK_UART_BAUDDIV(base) TFLE_REG((base) + 0x010u)
#define CMSDK_UART_STATE_TXFULL (1u << 0)
#define CMSDK_UART_STATE_RXFULL (1u << 1)
#define CMSDK_UART_CTRL_TXEN (1u << 0)
#define CMSDK_UART_CTRL_RXEN (1u << 1)

static inline void cmsdk_uart_init(uintptr_t base, uint32_t pclk_hz, uint32_t baud) {
  CMSDK_UART_BAUDDIV(base) = pclk_hz / baud; /* QEMU refuses a divider below 16 */
  CMSDK_UART_CTRL(base) = CMSDK_UART_CTRL_TXEN | CMSDK_UART_CTRL_RXEN;
}

static inline void cmsdk_uart_putc(uintptr_t base, char c) {
  while (CMSDK_UART_STATE(base) & CMSDK_UART_STATE_TXFULL) {
  }
  CMSDK_UART_DATA(base) = (uint8_t)c;
}

static inline int cmsdk_uart_getc(uintptr_t base) {
  while (!(CMSDK_UART_STATE(base) & CMSDK_UART_STATE_RXFULL)) {
  }
  return (int)(CMSDK_UART_DATA(base) & 0xFFu);
}

#endif /* TFLE_CMSDK_UART_H */
