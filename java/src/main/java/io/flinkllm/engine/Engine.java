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
     * The Flink SQL type of the task's output, e.g. {@code ROW<`a` STRING NOT NULL, `b`
     * BIGINT>}, read from the task file and its JSON schema without loading the model.
     *
     * <p>Every method taking {@code task, taskDocument}: {@code task} is a task file's path, or
     * with {@code taskDocument} non-null the label of that task document ({@link TaskSource}).
     */
    public static native String outputType(String task, String taskDocument, String allowedPaths);

    /** Indexes into the {@code stats} array {@link #generate} fills. */
    public static final int STAT_PROMPT_TOKENS = 0;
    public static final int STAT_GENERATED_TOKENS = 1;
    public static final int STAT_FORCED_TOKENS = 2;
    /** 1 if the input held ill-formed UTF-16 (a lone surrogate) that became U+FFFD; set before the row runs. */
    public static final int STAT_REPAIRED_INPUT = 3;
    public static final int STATS = 4;

    /**
     * Checks that the task's model directory is usable (manifest, tokenizer and graph files
     * present and consistent) without loading the model, so a broken one fails at planning.
     */
    public static native void checkModel(String task, String taskDocument, String model, String allowedPaths);

    /**
     * Opens the task; its model comes from the engine's process-wide shared registry. Every
     * handle of the same task file and arguments shares one open task (prefix cache,
     * constraint, batches); different arguments open a task of their own over the same model.
     *
     * @param model a model name or directory instead of the task's (also for {@link #checkModel}); null keeps it
     * @param maxTokens overrides the task's max_new_tokens; 0 keeps it
     * @param contextOverflow {@code error}, {@code truncated-tail} or {@code truncated-head};
     *     null keeps the task's
     * @param batchSize up to this many rows running at the same time (from any threads) share
     *     one forward pass; 1 runs every row alone on its caller's thread
     * @param allowedPaths {@link AllowedPaths#current()}: directories files may be read from, or
     *     null for anywhere (also for {@link #outputType} and {@link #checkModel})
     */
    public static native long open(String task, String taskDocument, String model, long maxTokens, String contextOverflow, int batchSize,
            String allowedPaths);

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
