package io.flinkllm;

/**
 * The row's input does not fit the model's context window (kind {@code InputTooLong}), with
 * {@code context-overflow-action} set so that it fails instead of truncating. A class of its
 * own because the context-overflow policy acts on it.
 */
public class InputTooLongException extends LlmException {
    private static final long serialVersionUID = 2L;

    /** Called by libflinkllm. */
    public InputTooLongException(String kind, String message) {
        super(kind, message);
    }
}
