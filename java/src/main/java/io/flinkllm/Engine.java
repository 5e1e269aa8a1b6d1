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

    /** Opens the task; its model comes from the engine's process-wide shared registry. */
    static native long open(String taskPath);

    /** Runs one throw-away row so the first real row does not pay one-time costs. */
    static native void warmUp(long handle);

    /**
     * Runs the task on one input. The result is the ROW's fields in order, already typed:
     * String, Long, Double, Boolean, Object[] for nested ROW and ARRAY, null for absent
     * optional fields.
     */
    static native Object[] generate(long handle, String input);

    /** Releases the handle; the model stays loaded while other handles use it. */
    static native void close(long handle);

    /** How many times this process loaded a model from disk (shared loads are not counted). */
    static native long modelLoads();
}
