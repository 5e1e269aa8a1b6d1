package io.flinkllm;

/** A bug in the native code (a Rust panic), caught at the JNI boundary; the JVM keeps running. */
public class NativePanicException extends LlmException {
    private static final long serialVersionUID = 1L;

    public NativePanicException(String message) {
        super(message);
    }
}
