package io.flinkllm;

/** max_new_tokens or the context window was reached before the JSON value was complete. */
public class GenerationLimitException extends LlmException {
    private static final long serialVersionUID = 1L;

    public GenerationLimitException(String message) {
        super(message);
    }
}
