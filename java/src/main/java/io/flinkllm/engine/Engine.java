package io.flinkllm.engine;

import io.flinkllm.InputTooLongException;
import io.flinkllm.LlmException;

/**
 * The JNI entry points of libflinkllm (crate {@code rust/jni}). Every method throws an
 * {@link LlmException} (an {@link InputTooLongException} for that kind) on failure, never
 * crashes the JVM; handles are opaque ids checked on the native side, so a closed handle gives
 * kind {@code InvalidHandle}. Call only after {@link NativeLibrary#load()}.
 */
public final class Engine {
    private Engine() {}

    /** Binds the engine to the ONNX Runtime library at this path (first call wins). */
    public static native void init(String onnxRuntimePath);

    /**
     * Sets the operator's schema compile budget (the system property {@value NativeLibrary#SCHEMA_BUDGET_PROPERTY};
     * the engine reads the environment variable {@code FLINKLLM_SCHEMA_BUDGET} itself), e.g.
     * {@code max-states=50000, max-memory-mib=64}. Called once, at load, before any task opens.
     */
    public static native void setSchemaBudget(String setting);

    /**
     * Planning, in one read of the task: the Flink SQL type of its output, e.g. {@code ROW<`a`
     * STRING NOT NULL, `b` BIGINT>}, after checking the task's keys (kind, type, range), the
     * caller's options and the model directory (manifest, tokenizer, graph files) without
     * loading the model, so every mistake fails at planning.
     *
     * <p>Every method taking {@code task, taskDocument, base, options, allowedPaths}: {@code task}
     * is a task file's path, or with {@code taskDocument} non-null the label of that task
     * document, whose relative file names resolve against {@code base} (null: the working
     * directory) ({@link TaskSource}); {@code options} is a JSON object of the caller's overrides
     * ({@code model}, {@code max-tokens}, {@code context-overflow-action}, {@code batch-size});
     * {@code allowedPaths} is {@link AllowedPaths#current()}, or null for anywhere.
     */
    public static native String plan(String task, String taskDocument, String base, String options, String allowedPaths);

    /** The task keys the engine reads: a JSON list of {@code {name, alias, applies, type, doc}} ({@link TaskKeys}). */
    public static native String taskKeys();

    /** Indexes into the {@code stats} array {@link #generate} fills. */
    public static final int STAT_PROMPT_TOKENS = 0;
    public static final int STAT_GENERATED_TOKENS = 1;
    public static final int STAT_FORCED_TOKENS = 2;
    /** 1 if the input held ill-formed UTF-16 (a lone surrogate) that became U+FFFD; set before the row runs. */
    public static final int STAT_REPAIRED_INPUT = 3;
    public static final int STATS = 4;

    /**
     * Opens the task; its model comes from the engine's process-wide shared registry. Every
     * handle of the same task and options shares one open task (prefix cache, constraint,
     * batches); different options open a task of their own over the same model. With
     * {@code batch-size} n, up to n rows running at the same time (from any threads) share one
     * forward pass; 1 runs every row alone on its caller's thread.
     */
    public static native long open(String task, String taskDocument, String base, String options, String allowedPaths);

    /** Runs one throw-away row so the first real row does not pay one-time costs. */
    public static native void warmUp(long handle);

    /**
     * Runs the task on one input. The result is the ROW's fields in order, already typed:
     * String, Long, Double, Boolean, Object[] for nested ROW and ARRAY, null for absent
     * optional fields. A row running longer than {@code timeoutMillis} (0 = no limit) stops
     * with kind {@code RowTimeout}. A lone UTF-16 surrogate in {@code input} is replaced by
     * U+FFFD (the row still runs; {@code stats[STAT_REPAIRED_INPUT]} says so). On success
     * {@code stats} (length {@link #STATS}) also holds the row's token counts.
     */
    public static native Object[] generate(long handle, String input, long timeoutMillis, long[] stats);

    /** Native memory the task holds: model weights, constraint index, prompt-prefix cache. */
    public static native long nativeMemoryBytes(long handle);

    /** Releases the handle; the model stays loaded while other handles use it. */
    public static native void close(long handle);

    /** The engine's error kinds a row can end with ({@link LlmException#kind()} names), for per-kind metrics. */
    public static native String[] rowErrorKinds();

    /** How many times this process loaded a model from disk (shared loads are not counted). */
    public static native long modelLoads();

    /** Models loaded right now (0 once every handle is closed: their memory is released). */
    public static native long liveModels();
}
