package io.flinkllm;

/** The task file is unreadable or invalid (missing keys, bad paths, bad examples). */
public class InvalidTaskException extends LlmException {
    private static final long serialVersionUID = 1L;

    public InvalidTaskException(String message) {
        super(message);
    }
}
