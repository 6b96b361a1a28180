/* Progress of a long command on stderr: a redrawn bar with rate and ETA on a terminal, plain lines
 * (every 10% of a known total, every 10 s otherwise) when stderr is a file or a pipe. */
#ifndef NALA_TOOLS_CLI_PROGRESS_H
#define NALA_TOOLS_CLI_PROGRESS_H

typedef struct cli_progress {
  const char *cmd, *unit; /* "nala seg", "frames" */
  long total, done;       /* total 0: unknown (camera, stream without a frame count) */
  int enabled, tty;
  int drawn;              /* a bar occupies stderr's current line */
  int last_decile;        /* plain mode: last 10% step printed */
  double start_ms, last_ms;
} cli_progress;

/* Starts timing; enabled 0 prints nothing at all. */
void cli_progress_start(cli_progress *p, const char *cmd, const char *unit, long total, int enabled);

/* done items so far: redraws the bar (at most 10 times a second) or prints a plain line when due. */
void cli_progress_step(cli_progress *p, long done);

/* Prints one message line on stderr ("<cmd>: <text>"), clearing the bar first; the bar comes back
 * at the next step. */
void cli_progress_note(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the bar for good (call before the final report). */
void cli_progress_end(cli_progress *p);

/* Seconds since start. */
double cli_progress_elapsed_s(const cli_progress *p);

#endif
