# bench/bench.mk - benchmark programs (included by the top Makefile).

# raw_boot: boots an ELF like toyvirt, with raw KVM ioctls (no libnvmm).
all: $(B)/bench/raw_boot

$(B)/bench/raw_boot: $(O)/bench/raw_boot.o
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# nvbench: libnvmm's benchmarks next to raw-KVM baselines (bench/run.sh).
all: $(B)/bench/nvbench

$(B)/bench/nvbench: $(O)/bench/nvbench.o $(B)/libnvmm.a
	@mkdir -p $(dir $@)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# Benchmarks are not tests: never part of "make check".  The QEMU row
# needs QEMU built with its NVMM accelerator on this libnvmm: make
# interop's build (cached in $(B)/interop); if it cannot be built, the row
# says so and counts as not met.
bench: all $(B)/bench/raw_boot $(B)/bench/nvbench
	@bash interop/run.sh --build $(B) > $(B)/bench-qemu-build.log 2>&1 || \
	    echo "bench: no QEMU with NVMM (see $(B)/bench-qemu-build.log)" >&2
	@vm/with-kvm sh bench/run.sh $(B)
