package io.flinkllm;

/**
 * Every flinkllm failure. {@link #kind()} says what went wrong, as one of the engine's
 * error kinds (their one table is {@code ErrorKind} in {@code rust/engine/src/error.rs}:
 * {@code InvalidTask}, {@code ModelLoad}, {@code GenerationLimit}, {@code RowTimeout}, ...),
 * so callers, error policies and metrics act on the kind without parsing messages.
 * {@link InputTooLongException} is the one kind with a class of its own: the context-overflow
 * policy acts on it.
 */
public class LlmException extends RuntimeException {
    private static final long serialVersionUID = 2L;

    private final String kind;

    /** Called by libflinkllm with the engine's kind name. */
    public LlmException(String kind, String message) {
        this(kind, message, null);
    }

    public LlmException(String kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    /** The engine's name of the error kind, e.g. {@code GenerationLimit}; stable, for metrics and logs. */
    public String kind() {
        return kind;
    }
}
