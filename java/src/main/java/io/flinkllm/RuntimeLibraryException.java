package io.flinkllm;

/** The ONNX Runtime shared library could not be found, loaded or bound. */
public class RuntimeLibraryException extends LlmException {
    private static final long serialVersionUID = 1L;

    public RuntimeLibraryException(String message) {
        super(message);
    }
}
