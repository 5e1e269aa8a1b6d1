/**
 * flinkllm for Flink SQL: the functions a job creates ({@link io.flinkllm.LlmFunction},
 * {@link io.flinkllm.AsyncLlmFunction}) and the one exception type, {@link
 * io.flinkllm.LlmException}, whose kind is the engine's. Below this package, and used only
 * through it: {@code call} (planning and running one call site), {@code config} (the options),
 * {@code metrics}, and {@code engine} (the JNI binding to the Rust engine, native loading, the
 * per-JVM sharing of open tasks). Dependencies point downward only (functions → call →
 * config, metrics, engine), except that every layer throws this package's {@link
 * io.flinkllm.LlmException}.
 */
package io.flinkllm;
