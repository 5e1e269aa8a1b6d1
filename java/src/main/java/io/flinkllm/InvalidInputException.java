package io.flinkllm;

/** A Java argument cannot cross to the engine (e.g. a string with a lone UTF-16 surrogate). */
public class InvalidInputException extends LlmException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }
}
