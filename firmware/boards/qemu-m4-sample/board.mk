# qemu-m4: QEMU mps2-an386, Arm Cortex-M4F at a nominal 25 MHz.
BOARD_CPU_FLAGS := -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
QEMU_MACHINE := mps2-an386
# QEMU runs the board with -icount shift=$(TFLE_ICOUNT_SHIFT): one instruction = 64 ns of
# virtual time. SysTick ticks at 25 MHz, so one tick is 5/8 instruction: 1e9 / (25000000 * 64).
TFLE_ICOUNT_SHIFT := 6
BOARD_DEFS := -DTFLE_CLOCK_HZ=25000000u -DTFLE_TICK_NUM=5u -DTFLE_TICK_DEN=8u
BOARD_SRCS := $(BOARD_DIR)/board.c
BOARD_LDSCRIPT := $(BOARD_DIR)/linker.ld
include $(TFLE_FIRMWARE)/boards/common/cortexm.mk
