package io.flinkllm;

/** The task's JSON schema uses a keyword the constrained decoder cannot enforce. */
public class UnsupportedSchemaException extends LlmException {
    private static final long serialVersionUID = 1L;

    public UnsupportedSchemaException(String message) {
        super(message);
    }
}
