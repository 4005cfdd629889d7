/* Cortex-M system registers the board support uses (no CMSIS: only what is needed). */
#ifndef TFLE_CORTEXM_H
#define TFLE_CORTEXM_H

#include <stdint.h>

#define TFLE_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

#define SCB_ICSR TFLE_REG(0xE000ED04u)
#define SCB_ICSR_PENDSTSET (1u << 26)
#define SCB_CPACR TFLE_REG(0xE000ED88u)
#define SYST_CSR TFLE_REG(0xE000E010u)
#define SYST_RVR TFLE_REG(0xE000E014u)
#define SYST_CVR TFLE_REG(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE_CPU (1u << 2)

/* Start the SysTick-based instruction counter (cortexm_cycles.c). */
void tfle_cortexm_cycles_start(void);

#endif /* TFLE_CORTEXM_H */
