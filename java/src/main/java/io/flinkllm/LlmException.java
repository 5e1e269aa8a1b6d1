package io.flinkllm;

/**
 * Base of every flinkllm failure. Each engine error kind has its own subclass (thrown by
 * the native code with the reason as message), so callers and error policies can act on
 * the kind without parsing messages.
 */
public class LlmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LlmException(String message) {
        super(message);
    }

    public LlmException(String message, Throwable cause) {
        super(message, cause);
    }

    /** Short stable name of the error kind, e.g. for metrics and logs. */
    public String kind() {
        String name = getClass().getSimpleName();
        return name.endsWith("Exception") ? name.substring(0, name.length() - "Exception".length()) : name;
    }
}
