package io.flinkllm;

/**
 * The JNI entry points of libflinkllm (crate {@code rust/jni}). Every method throws a
 * subclass of {@link LlmException} on failure, never crashes the JVM; handles are opaque ids
 * checked on the native side, so a closed handle gives {@link InvalidHandleException}.
 * Call only after {@link NativeLibrary#load()}.
 */
final class Engine {
    private Engine() {}

    /** Binds the engine to the ONNX Runtime library at this path (first call wins). */
    static native void init(String onnxRuntimePath);

    /**
     * The Flink SQL type of the task's output, e.g. {@code ROW<`a` STRING NOT NULL, `b`
     * BIGINT>}, read from the task file and its JSON schema without loading the model.
     */
    static native String outputType(String taskPath);

    /** Indexes into the {@code stats} array {@link #generate} fills. */
    static final int STAT_PROMPT_TOKENS = 0;
    static final int STAT_GENERATED_TOKENS = 1;
    static final int STAT_FORCED_TOKENS = 2;
    /** 1 if the input held ill-formed UTF-16 (a lone surrogate) that became U+FFFD; set before the row runs. */
    static final int STAT_REPAIRED_INPUT = 3;
    static final int STATS = 4;

    /**
     * Checks that the task's model directory is usable (manifest, tokenizer and graph files
     * present and consistent) without loading the model, so a broken one fails at planning.
     */
    static native void checkModel(String taskPath);

    /**
     * Opens the task; its model comes from the engine's process-wide shared registry.
     *
     * @param maxTokens overrides the task's max_new_tokens; 0 keeps it
     * @param contextOverflow {@code error}, {@code truncated-tail} or {@code truncated-head};
     *     null keeps the task's
     */
    static native long open(String taskPath, long maxTokens, String contextOverflow);

    /**
     * How the task batches rows: up to {@code maxBatch} rows running at the same time (from
     * any threads) share one forward pass; 1 runs every row alone on its caller's thread.
     * {@code queueCapacity} 0 and a negative {@code maxWaitMicros} keep the engine's defaults
     * (4 × maxBatch rows waiting; 2 ms before a partial batch runs). Every handle of the same
     * task file and engine options shares the setting.
     */
    static native void setBatching(long handle, int maxBatch, int queueCapacity, long maxWaitMicros);

    /** Runs one throw-away row so the first real row does not pay one-time costs. */
    static native void warmUp(long handle);

    /**
     * Runs the task on one input. The result is the ROW's fields in order, already typed:
     * String, Long, Double, Boolean, Object[] for nested ROW and ARRAY, null for absent
     * optional fields. A row running longer than {@code timeoutMillis} (0 = no limit) stops
     * with {@link RowTimeoutException}. A lone UTF-16 surrogate in {@code input} is replaced by
     * U+FFFD (the row still runs; {@code stats[STAT_REPAIRED_INPUT]} says so). On success
     * {@code stats} (length {@link #STATS}) also holds the row's token counts.
     */
    static native Object[] generate(long handle, String input, long timeoutMillis, long[] stats);

    /** Native memory the task holds: model weights, constraint index, prompt-prefix cache. */
    static native long nativeMemoryBytes(long handle);

    /** Releases the handle; the model stays loaded while other handles use it. */
    static native void close(long handle);

    /** How many times this process loaded a model from disk (shared loads are not counted). */
    static native long modelLoads();

    /** Models loaded right now (0 once every handle is closed: their memory is released). */
    static native long liveModels();
}
