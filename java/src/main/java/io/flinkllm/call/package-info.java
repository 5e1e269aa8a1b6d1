/**
 * One {@code llm(task, input [, options])} call site: at planning, the task's ROW type and the
 * resolved options; on the task manager, the shared native task, the error policy and the
 * metrics, turning one input into one ROW. Internal: the functions in {@code io.flinkllm} are
 * the API.
 */
package io.flinkllm.call;
