/* The --input of the parity dumps (nala backbone / seg / det): a safetensors file's 'input'. */
#ifndef NALA_TOOLS_CLI_TENSOR_H
#define NALA_TOOLS_CLI_TENSOR_H

/* Reads 'input' [1,3,H,W] (1 <= H, W <= CLI_MAX_SIDE, any float dtype) of path into a new float32
 * buffer, all finite; otherwise prints "<cmd>: <path>: ..." naming the shape or the NaN / Inf
 * count and returns NULL. */
float *cli_load_input_tensor(const char *cmd, const char *path, int *h, int *w);

#endif
