# qemu-m3: QEMU lm3s6965evb, Arm Cortex-M3 at a nominal 50 MHz.
BOARD_CPU_FLAGS := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
QEMU_MACHINE := lm3s6965evb
# QEMU runs the board with -icount shift=$(TFLE_ICOUNT_SHIFT): one instruction = 64 ns of
# virtual time. SysTick ticks at 50 MHz, so one tick is 5/16 instruction: 1e9 / (50000000 * 64).
TFLE_ICOUNT_SHIFT := 6
BOARD_DEFS := -DTFLE_CLOCK_HZ=50000000u -DTFLE_TICK_NUM=5u -DTFLE_TICK_DEN=16u
BOARD_SRCS := $(BOARD_DIR)/board.c
BOARD_LDSCRIPT := $(BOARD_DIR)/linker.ld
include $(TFLE_FIRMWARE)/boards/common/cortexm.mk
