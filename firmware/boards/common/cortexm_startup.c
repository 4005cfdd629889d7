/* Cortex-M startup shared by the QEMU boards: vector table, reset handler, fault report.
 *
 * The reset handler turns the FPU (and Helium on the M55) on before any C code can use it,
 * copies .data from flash, zeroes .bss, runs C++ constructors (a TFLM harness needs them)
 * and calls main().
 */
#include <stdint.h>

#include "cortexm.h"
#include "tfle_board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
extern uint32_t __stack_top[];
extern void (*__preinit_array_start[])(void), (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);

int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);

/* C++ objects with static storage register their destructors against this handle. */
void *__dso_handle = 0;

static void report_fault(const char *msg) {
  static const char head[] = "\nTFLE 1 error msg=";
  for (const char *p = head; *p != '\0'; ++p) tfle_board_putc(*p);
  for (; *msg != '\0'; ++msg) tfle_board_putc(*msg);
  tfle_board_putc('\n');
}

void HardFault_Handler(void) {
  report_fault("hard_fault");
  for (;;) {
  }
}

void Fault_Handler(void) {
  report_fault("fault");
  for (;;) {
  }
}

void Default_Handler(void) {
  report_fault("unexpected_interrupt");
  for (;;) {
  }
}

__attribute__((section(".vectors"), used)) void (*const tfle_vectors[16 + 32])(void) = {
    (void (*)(void))(uintptr_t)__stack_top,
    Reset_Handler,
    Default_Handler,   /* NMI */
    HardFault_Handler,
    Fault_Handler,     /* MemManage */
    Fault_Handler,     /* BusFault */
    Fault_Handler,     /* UsageFault */
    Fault_Handler,     /* SecureFault (v8-M) */
    0, 0, 0,
    Default_Handler,   /* SVCall */
    Default_Handler,   /* DebugMonitor */
    0,
    Default_Handler,   /* PendSV */
    SysTick_Handler,
    [16 ... 47] = Default_Handler,
};

__attribute__((noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
  /* CP10 and CP11 full access: -mfloat-abi=hard code (and MVE) may run from here on. */
  SCB_CPACR |= 0xFu << 20;
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t *src = __data_load;
  for (uint32_t *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;) *dst++ = 0;
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  main();
  for (;;) {
  }
}
