package io.flinkllm;

/** The native libraries could not be loaded; the message lists every path tried and why. */
public class NativeLibraryException extends LlmException {
    private static final long serialVersionUID = 1L;

    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
