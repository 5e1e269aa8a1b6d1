package io.flinkllm;

/** A native handle was used after close(), or never existed. */
public class InvalidHandleException extends LlmException {
    private static final long serialVersionUID = 1L;

    public InvalidHandleException(String message) {
        super(message);
    }
}
