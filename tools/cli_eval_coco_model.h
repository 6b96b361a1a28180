/* `nala eval coco --config C --weights W --data-root COCO ...` (a model over a COCO split) and
 * `nala eval coco --merge P0 P1 ...` (shard outputs), beside the --gt/--results mode of cli_eval_coco.c. */
#ifndef NALA_TOOLS_CLI_EVAL_COCO_MODEL_H
#define NALA_TOOLS_CLI_EVAL_COCO_MODEL_H

/* 1 when argv asks for the model or merge mode (it has --config or --merge). */
int cli_eval_coco_is_model_mode(int argc, char **argv);

/* Runs that mode; returns the exit code. */
int cli_eval_coco_model(int argc, char **argv);

#endif
