/* qemu-m4: QEMU mps2-an386 (Cortex-M4F). Console on UART0, a CMSDK APB UART;
 * cycles from SysTick (common/cortexm_cycles.c). */
#include <stdint.h>

#include "cmsdk_uart.h"
#include "cortexm.h"
#include "tfle_board.h"

#define UART0_BASE 0x40004000u
#define PCLK_HZ 25000000u

void tfle_board_init(void) {
  cmsdk_uart_init(UART0_BASE, PCLK_HZ, 115200u);
  tfle_cortexm_cycles_start();
}

void tfle_board_putc(char c) { cmsdk_uart_putc(UART0_BASE, c); }

int tfle_board_getc(void) { return cmsdk_uart_getc(UART0_BASE); }

uint32_t tfle_board_clock_hz(void) { return TFLE_CLOCK_HZ; }
