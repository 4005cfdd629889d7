/* The cycle source of the QEMU boards: exact emulated instruction counts from SysTick.
 *
 * QEMU implements no DWT cycle counter (DWT_CYCCNT reads as zero), but under
 * `-icount shift=S` every emulated instruction advances virtual time by exactly 2^S ns, and
 * SysTick counts the CPU clock in that virtual time. QEMU's SysTick (a ptimer that rounds
 * its count up) shows T = ceil(r * j) - 2 ticks j instructions after it was enabled, where
 * r = clock_hz * 2^S / 1e9 ticks per instruction (measured on all four QEMU boards). With
 * r >= 1 that inverts exactly: j = floor((T + 2) / r), computed as
 * floor((T + 2) * TFLE_TICK_NUM / TFLE_TICK_DEN) with NUM/DEN = 1 / r from board.mk.
 * Differences of j are then exact instruction counts whatever the phase of the timer, so
 * repeated runs of the same code report the same number.
 *
 * SysTick is 24 bits wide: an interrupt counts its wraps. The handler is five instructions
 * of assembly, and those are subtracted again, so `cycles` counts the measured code only.
 */
#include <stdint.h>

#include "cortexm.h"
#include "tfle_board.h"

#if !defined(TFLE_TICK_NUM) || !defined(TFLE_TICK_DEN)
#error "board.mk must define TFLE_TICK_NUM and TFLE_TICK_DEN (emulated instructions per tick)"
#endif

#define SYSTICK_RELOAD 0x00FFFFFFu
#define WRAP_HANDLER_INSNS 5u

volatile uint32_t tfle_systick_wraps;

__attribute__((naked)) void SysTick_Handler(void) {
  __asm volatile(
      "ldr r0, =tfle_systick_wraps\n\t"
      "ldr r1, [r0]\n\t"
      "adds r1, r1, #1\n\t"
      "str r1, [r0]\n\t"
      "bx lr\n\t"
      ".ltorg\n\t");
}

void tfle_cortexm_cycles_start(void) {
  SYST_CSR = 0;
  tfle_systick_wraps = 0;
  SYST_RVR = SYSTICK_RELOAD;
  SYST_CVR = 0; /* any write clears the counter; it reloads on the first tick */
  SYST_CSR = SYST_CSR_CLKSOURCE_CPU | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint32_t tfle_board_cycles(void) {
  uint32_t primask;
  __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
  const uint32_t taken = tfle_systick_wraps;
  const uint32_t before = SYST_CVR;
  const uint32_t pending = SCB_ICSR & SCB_ICSR_PENDSTSET;
  const uint32_t after = SYST_CVR;
  __asm volatile("msr primask, %0" ::"r"(primask) : "memory");
  /* A wrap whose interrupt has not run yet shows as pending; `after` was read past it. */
  const uint64_t wraps = (uint64_t)taken + (pending ? 1u : 0u);
  const uint32_t value = pending ? after : before;
  const uint64_t ticks = wraps * (SYSTICK_RELOAD + 1ull) + (SYSTICK_RELOAD - value);
  const uint64_t insns = ((ticks + 2u) * TFLE_TICK_NUM) / TFLE_TICK_DEN;
  return (uint32_t)(insns - (uint64_t)taken * WRAP_HANDLER_INSNS);
}
