/* Subcommands of the `nala` tool (the command table is in tools/nala.c). Each returns the exit code:
 * 0 success, 1 runtime error (message on stderr), 2 bad arguments (usage on stderr). */
#ifndef NALA_TOOLS_CLI_H
#define NALA_TOOLS_CLI_H

enum { NALA_EXIT_OK = 0, NALA_EXIT_RUNTIME = 1, NALA_EXIT_USAGE = 2 };

int nala_cli_demo(int argc, char **argv);      /* nala demo: backbone on a generated image */
int nala_cli_backbone(int argc, char **argv);  /* nala backbone --model M ... --dump out.safetensors */
int nala_cli_det(int argc, char **argv);       /* nala det --config C --input X --out P | --dump D */
int nala_cli_eval_coco(int argc, char **argv); /* nala eval coco --gt G --results R --iou-type T */
int nala_cli_eval_seg(int argc, char **argv);  /* nala eval seg --dataset D --pred P --gt G */
int nala_cli_config(int argc, char **argv);    /* nala config show|samples FILE (argv[0] "config") */
int nala_cli_seg(int argc, char **argv);       /* nala seg --config C --input X --out P | --dump D */
int nala_cli_synth(int argc, char **argv);     /* nala synth seg|coco|video (argv[0] "synth") */
int nala_bench_backbone(int argc, char **argv);  /* nala bench backbone --model M --size HxW ... */
int nala_bench_attention(int argc, char **argv); /* nala bench attention --tokens N ... */
int nala_bench_det(int argc, char **argv);       /* nala bench det --config C --size HxW ... */
int nala_bench_seg(int argc, char **argv);       /* nala bench seg --config C --size HxW ... */

#endif
