/* pmx command line: output formatting, usage and ls. */
#ifndef PMX_CLI_H
#define PMX_CLI_H

#include <proxmox/proxmox.h>

/* The four verbs, indexed by pmx_method - 1 (PMX_GET = 1 ... PMX_DELETE = 4): the HTTP name,
 * the pvesh-style command, and the letter `ls` shows. */
typedef struct cli_verb {
    pmx_method method;
    const char *http, *cli;
    char letter;
} cli_verb;
extern const cli_verb cli_verbs[4];

/* Print a call's data (JSON text, len bytes; may be NULL) as text tables, json or json-pretty. */
void cli_output(const char *data, size_t len, const char *format, const pmx_method_desc *d);
/* Print the methods at path with their parameters and result shapes; returns an exit code. */
int cli_usage(const char *path);
/* List the entries below path with the verbs they take; returns an exit code. */
int cli_ls(pmx_client *c, const char *path, const char *format);

#endif
