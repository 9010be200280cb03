/* minimal.c - the smallest complete libnvmm program: a VM runs three real-mode instructions; the byte the guest writes to port 0x10 is printed. */

#include <err.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <nvmm.h>

static void
io_callback(struct nvmm_io *io)
{
	printf("guest wrote 0x%02x to port 0x%x\n", io->data[0], io->port);
}

int
main(void)
{
	/* mov $0x42,%al; out %al,$0x10; hlt */
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x10, 0xf4 };
	struct nvmm_assist_callbacks cbs = { .io = io_callback };
	struct nvmm_machine mach;
	struct nvmm_vcpu vcpu;
	uint8_t *ram = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (ram == MAP_FAILED || nvmm_init() == -1 ||
	    nvmm_machine_create(&mach) == -1 ||
	    nvmm_vcpu_create(&mach, 0, &vcpu) == -1 ||
	    nvmm_vcpu_configure(&mach, &vcpu, NVMM_VCPU_CONF_CALLBACKS,
	    &cbs) == -1 ||
	    nvmm_hva_map(&mach, (uintptr_t)ram, 4096) == -1 ||
	    nvmm_gpa_map(&mach, (uintptr_t)ram, 0x1000, 4096,
	    PROT_READ | PROT_WRITE | PROT_EXEC) == -1 ||
	    nvmm_vcpu_getstate(&mach, &vcpu, NVMM_X64_STATE_ALL) == -1)
		err(1, "setting up the VM");
	memcpy(ram, code, sizeof(code));	/* at guest physical 0x1000 */

	/* The VCPU starts in real mode: run from CS:IP = 0000:1000. */
	vcpu.state->segs[NVMM_X64_SEG_CS].selector = 0;
	vcpu.state->segs[NVMM_X64_SEG_CS].base = 0;
	vcpu.state->gprs[NVMM_X64_GPR_RIP] = 0x1000;
	if (nvmm_vcpu_setstate(&mach, &vcpu, NVMM_X64_STATE_ALL) == -1)
		err(1, "nvmm_vcpu_setstate");

	while (nvmm_vcpu_run(&mach, &vcpu) == 0) {
		if (vcpu.exit->reason == NVMM_VCPU_EXIT_HALTED) {
			printf("guest halted\n");
			return nvmm_machine_destroy(&mach) == -1;
		}
		if (vcpu.exit->reason != NVMM_VCPU_EXIT_IO)
			errx(1, "unexpected exit 0x%llx",
			    (unsigned long long)vcpu.exit->reason);
		if (nvmm_assist_io(&mach, &vcpu) == -1)
			err(1, "nvmm_assist_io");
	}
	err(1, "nvmm_vcpu_run");
}
