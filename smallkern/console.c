/* console.c - output to the VMM's toy console: one byte per string-output instruction. */

#include "smallkern.h"

/*
 * Each byte goes out with its own "rep outsb" of count 1 (one VM exit per
 * byte), exactly as the original smallkern did.  The VMM adds the "mach>"
 * prefix to each line; the kernel only sends the bytes.
 */
static inline const char *
outsb1(const char *p)
{
	uint64_t count = 1;

	/* RSI advances past the byte sent. */
	__asm__ volatile("rep outsb"
	    : "+S"(p), "+c"(count) : "d"(CONSOLE_PORT) : "memory");
	return p;
}

void
cons_putc(char c)
{
	outsb1(&c);
}

void
cons_puts(const char *s)
{
	while (*s != '\0')
		s = outsb1(s);
}

/* "[+] text" when ok, "[!] text" otherwise. */
void
print_state(int ok, const char *text)
{
	cons_puts(ok ? "[+] " : "[!] ");
	cons_puts(text);
	cons_putc('\n');
}
