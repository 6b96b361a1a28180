/* Numbers on the `nala` command line: one strict parser with range checks whose errors name the
 * flag and the value ("--threads '-3': expected an integer in [0, 4096]"). */
#ifndef NALA_TOOLS_CLI_ARGS_H
#define NALA_TOOLS_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nala/isa.h"
#include "nala/status.h"

/* Most threads any --threads accepts (0 = OpenMP's default). */
#define CLI_MAX_THREADS 4096
/* Largest side any HxW size flag accepts. */
#define CLI_MAX_SIDE 16384

/* Decimal integer in [lo, hi]: no blanks, no '+', no trailing characters, no overflow. */
nala_status cli_parse_int(const char *flag, const char *text, int lo, int hi, int *out, nala_err *err);

/* Decimal unsigned 64-bit integer (a seed). */
nala_status cli_parse_u64(const char *flag, const char *text, uint64_t *out, nala_err *err);

/* "HxW" with 1 <= H, W <= CLI_MAX_SIDE. */
nala_status cli_parse_size(const char *flag, const char *text, int *h, int *w, nala_err *err);

/* "i/n" with 0 <= i < n (dataset shards). */
nala_status cli_parse_shard(const char *flag, const char *text, int *index, int *count, nala_err *err);

/* A kernel tier name (nala_isa_parse) into *(nala_isa *)dst; text NULL (a switch such as --ref)
 * means the reference tier. For CLI_CUSTOM / CLI_CUSTOM_SWITCH rows. */
nala_status cli_parse_isa(const char *flag, const char *text, void *dst, nala_err *err);

/* One option of a command, for cli_parse_options. dst points to: const char * (CLI_TEXT), int
 * (CLI_INT, in [lo, hi]; CLI_SWITCH, set to 1), uint64_t (CLI_U64), int[2] = {h, w} (CLI_SIZE),
 * whatever parse fills (CLI_CUSTOM: parse(flag, value, dst); CLI_CUSTOM_SWITCH: no value, parse
 * gets NULL). A parse error should name the flag and value. */
typedef enum cli_option_kind { CLI_TEXT, CLI_INT, CLI_U64, CLI_SIZE, CLI_SWITCH, CLI_CUSTOM, CLI_CUSTOM_SWITCH } cli_option_kind;
typedef struct cli_option {
  const char *flag; /* NULL ends a table */
  cli_option_kind kind;
  void *dst;
  int lo, hi;
  nala_status (*parse)(const char *flag, const char *text, void *dst, nala_err *err);
} cli_option;

/* Parses argv[1..] against the NULL-terminated list of option tables: -h/--help prints usage to
 * stdout; an unknown option, a positional argument, a missing value or a bad number prints a
 * message naming it ("nala bench backbone: --runs '0': expected an integer in [1, 100000]") and
 * usage to stderr. Returns -1 when the command should go on, else its exit code. */
int cli_parse_options(const char *cmd, int argc, char **argv, const cli_option *const *tables,
                      void (*usage)(FILE *out));

/* Moves each "--cfg-options KEY=VALUE ..." run of argv[1..] into overrides (*n_overrides of at
 * most max) and every other word, argv[0] first, into rest (room for argc + 1, NULL-terminated).
 * A word starting with '-' or without '=' ends a run; an empty run, a KEY that is empty, starts
 * with '.' or holds "..", or one override too many prints a message naming it (usage too for the
 * empty run). Returns -1 when the command should go on, else its exit code. */
int cli_take_overrides(const char *cmd, int argc, char **argv, char **rest, int *n_rest, const char **overrides,
                       int *n_overrides, int max, void (*usage)(FILE *out));

#endif
