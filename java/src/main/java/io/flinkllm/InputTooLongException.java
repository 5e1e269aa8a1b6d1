package io.flinkllm;

/** The row's input does not fit the model's context window. */
public class InputTooLongException extends LlmException {
    private static final long serialVersionUID = 1L;

    public InputTooLongException(String message) {
        super(message);
    }
}
