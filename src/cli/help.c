/*
 * help.c - `kiln help [COMMAND]`: the command list, or one command's usage.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char cmd_help_usage[] = "usage: kiln help [COMMAND]\n"
			      "\n"
			      "Without COMMAND, lists the commands; with it, prints its usage.\n";

const struct cmd *cli_find(const char *name)
{
	for (const struct cmd *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int cli_fail(const struct err *err)
{
	fprintf(stderr, "kiln: error: %s\n", err->msg[0] ? err->msg : err_name(err->code));
	return err->code == ERR_USAGE ? EXIT_USAGE : EXIT_FAILED;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "kiln %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nrun 'kiln help %s' for usage\n", cmd);
	return EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int cli_print_usage(const char *name)
{
	const struct cmd *c = cli_find(name);
	if (!c)
		return EXIT_USAGE;
	fputs(c->usage, stdout);
	return EXIT_OK;
}

int cmd_help(int argc, char **argv)
{
	if (argc > 2)
		return cli_usage_error("help", "too many arguments");
	if (argc == 2) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
			return cli_print_usage("help");
		if (!cli_find(argv[1])) {
			fprintf(stderr, "kiln help: unknown command '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		return cli_print_usage(argv[1]);
	}
	printf("usage: kiln [--log-level LEVEL] <command> [options]\n\n"
	       "The whole ML delivery loop in one program.\n\ncommands:\n");
	for (const struct cmd *c = cli_commands; c->name; c++)
		printf("  %-10s %s\n", c->name, c->summary);
	printf("\nRun 'kiln help <command>' for a command's options. Docs: docs/cmd/.\n");
	return EXIT_OK;
}
