package io.flinkllm.engine;

import io.flinkllm.LlmException;

/**
 * The native libraries could not be loaded; the message lists every path tried and why. Kind
 * {@code NativeLibrary}: the Java loader's own failure, before the engine (and its kinds) exists.
 */
public class NativeLibraryException extends LlmException {
    private static final long serialVersionUID = 1L;

    public NativeLibraryException(String message, Throwable cause) {
        super("NativeLibrary", message, cause);
    }
}
