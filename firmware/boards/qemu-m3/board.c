/* qemu-m3: QEMU lm3s6965evb (Stellaris LM3S6965, Cortex-M3). Console on UART0, a PL011;
 * cycles from SysTick. */
#include <stdint.h>

#include "cortexm.h"
#include "pl011_uart.h"
#include "tfle_board.h"

#define SYSCTL_RCC TFLE_REG(0x400FE060u)
#define RCC_SYSDIV_SHIFT 23
#define RCC_SYSDIV_MASK (0xFu << RCC_SYSDIV_SHIFT)
#define RCC_USESYSDIV (1u << 22)
#define UART0_BASE 0x4000C000u

void tfle_board_init(void) {
  /* The chip's 50 MHz: the 200 MHz PLL divided by SYSDIV + 1 = 4 (reset leaves 12.5 MHz). */
  SYSCTL_RCC = (SYSCTL_RCC & ~RCC_SYSDIV_MASK) | (3u << RCC_SYSDIV_SHIFT) | RCC_USESYSDIV;
  pl011_uart_init(UART0_BASE, TFLE_CLOCK_HZ, 115200u);
  tfle_cortexm_cycles_start();
}

void tfle_board_putc(char c) { pl011_uart_putc(UART0_BASE, c); }

int tfle_board_getc(void) { return pl011_uart_getc(UART0_BASE); }

uint32_t tfle_board_clock_hz(void) { return TFLE_CLOCK_HZ; }
