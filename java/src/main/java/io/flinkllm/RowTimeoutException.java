package io.flinkllm;

/** The row took longer than the {@code timeout} option allows; its decoding was stopped. */
public class RowTimeoutException extends LlmException {
    private static final long serialVersionUID = 1L;

    public RowTimeoutException(String message) {
        super(message);
    }
}
