/* The hello-world image's only program: prints how Berth got it running, then exits 0.
 * Built with `gcc -static -Os` so the image needs nothing but this binary. */
#include <unistd.h>

static const char message[] =
	"\n"
	"Hello from Berth!\n"
	"This message shows that your installation appears to be working correctly.\n"
	"\n"
	"To generate this message, Berth took the following steps:\n"
	" 1. The berth client contacted the berthd daemon.\n"
	" 2. The daemon pulled the \"hello-world\" image from the registry (or its mirror).\n"
	" 3. The daemon created a new container from that image which runs the\n"
	"    executable that produced the output you are currently reading.\n"
	" 4. The daemon streamed that output to the berth client, which sent it\n"
	"    to your terminal.\n"
	"\n"
	"To try something more ambitious, you can run a busybox container with:\n"
	" $ berth run -it busybox sh\n"
	"\n"
	"For more, see docs/ in the Berth repository.\n"
	"\n";

int main(void)
{
	size_t off = 0, len = sizeof(message) - 1;

	while (off < len) {
		ssize_t n = write(STDOUT_FILENO, message + off, len - off);
		if (n <= 0)
			return 1;
		off += (size_t)n;
	}
	return 0;
}
