/*
 * version.c - `kiln version` / `kiln --version`.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

const char cmd_version_usage[] = "usage: kiln version [--json]\n"
				 "\n"
				 "Prints kiln's version.\n";

int cmd_version(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json") != 0))
		return cli_usage_error("version", "unexpected argument '%s'", argv[argc - 1]);
	if (argc == 2)
		printf("{\"version\": \"%s\"}\n", KILN_VERSION);
	else
		printf("kiln %s\n", KILN_VERSION);
	return EXIT_OK;
}
