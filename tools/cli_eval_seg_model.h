/* `nala eval seg` of a model over a dataset, and --merge of shard states (tools/cli_eval_seg_model.c). */
#ifndef NALA_TOOLS_CLI_EVAL_SEG_MODEL_H
#define NALA_TOOLS_CLI_EVAL_SEG_MODEL_H

/* 1 when argv asks for the model mode (--config) or a merge (--merge) rather than --pred/--gt. */
int cli_eval_seg_is_model_mode(int argc, char **argv);

/* Runs it (argv[0] is "seg"); returns the exit code (tools/cli.h). */
int cli_eval_seg_model(int argc, char **argv);

#endif
